import { open } from 'node:fs/promises'
import type { ArtifactStore } from './artifact-store.js'
import type { Reply, RequestContext, Route } from './http.js'
import { DRIVER_LOG, reportedStatus } from './runner.js'
import { TERMINAL_STATUSES, type EmulatorState, type RunRecord } from './state.js'

const TAIL_BYTES = 8 * 1024

/** What the studio page needs. */
export interface StudioDeps {
  state: EmulatorState
  artifacts: ArtifactStore
}

/**
 * A small stand-in for the studio run page that the action's `run-url` points at when it talks to this
 * service: status, times, metrics and the end of the driver log, refreshing itself while the run is active.
 */
export function studioRoutes(deps: StudioDeps): Route[] {
  return [{ method: 'GET', pattern: '/studio/runs/{runId}', service: 'studio', handler: ctx => runPage(deps, ctx) }]
}

async function runPage(deps: StudioDeps, ctx: RequestContext): Promise<Reply> {
  const run = deps.state.findRun(ctx.params.runId)
  const wsid = ctx.query.get('wsid')
  if (!run || (wsid !== null && !sameWorkspace(run, wsid))) {
    return html(404, page('Run not found', `<p>There is no run <code>${esc(ctx.params.runId)}</code>${wsid ? ` in workspace <code>${esc(wsid)}</code>` : ''}.</p>`, false))
  }
  const status = reportedStatus(run)
  const rows: Array<[string, string]> = [
    ['Run id', run.runId],
    ['Status', status],
    ['Experiment', run.experiment.name],
    ['Target', run.target ?? ''],
    ['Script', run.scriptName ?? ''],
    ['Created', run.createdUtc],
    ['Started', run.startTimeUtc ?? ''],
    ['Ended', run.endTimeUtc ?? '']
  ]
  if (run.error) rows.push(['Error', `${run.error.code}: ${run.error.message}`])
  const details = `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`
  const metrics = new Map<string, string[]>()
  for (const m of run.metrics) {
    const values = metrics.get(m.name) ?? []
    for (const cell of m.cells) values.push(Object.keys(cell).length === 1 && m.name in cell ? String(cell[m.name]) : JSON.stringify(cell))
    metrics.set(m.name, values)
  }
  const metricTable = metrics.size
    ? `<table><tr><th>Metric</th><th>Values</th></tr>${[...metrics].map(([n, v]) => `<tr><td>${esc(n)}</td><td>${esc(v.join(', '))}</td></tr>`).join('')}</table>`
    : '<p>No metrics logged.</p>'
  const tail = await logTail(deps, run)
  const log = tail === undefined ? '<p>No driver log yet.</p>' : `<pre>${esc(tail)}</pre>`
  const active = !TERMINAL_STATUSES.includes(status)
  return html(200, page(`Run ${run.runId}`, `${details}<h2>Metrics</h2>${metricTable}<h2>Driver log (end)</h2>${log}`, active))
}

function sameWorkspace(run: RunRecord, wsid: string): boolean {
  const ws = run.workspace
  const want = `/subscriptions/${ws.subscriptionId}/resourcegroups/${ws.resourceGroup}/workspaces/${ws.name}`.toLowerCase()
  const full = `/subscriptions/${ws.subscriptionId}/resourcegroups/${ws.resourceGroup}/providers/microsoft.machinelearningservices/workspaces/${ws.name}`.toLowerCase()
  const given = wsid.toLowerCase().replace(/\/+$/, '')
  return given === want || given === full
}

async function logTail(deps: StudioDeps, run: RunRecord): Promise<string | undefined> {
  const artifact = deps.artifacts.get(run.workspace.workspaceId, 'ExperimentRun', run.dataContainerId, DRIVER_LOG)
  if (!artifact) return undefined
  const handle = await open(artifact.file, 'r')
  try {
    const { size } = await handle.stat()
    const length = Math.min(size, TAIL_BYTES)
    const buffer = Buffer.alloc(length)
    await handle.read(buffer, 0, length, size - length)
    return buffer.toString('utf8')
  } finally {
    await handle.close()
  }
}

function page(title: string, body: string, refresh: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · local Azure ML</title>${refresh ? '<meta http-equiv="refresh" content="3">' : ''}
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}pre{background:#f4f4f4;padding:1rem;overflow:auto;max-height:30rem}</style>
</head><body><h1>${esc(title)}</h1>${body}<p><small>Local Azure ML service</small></p></body></html>`
}

function html(status: number, body: string): Reply {
  return { status, headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }, body }
}

/** Escapes text for HTML element content and attribute values. */
export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}
