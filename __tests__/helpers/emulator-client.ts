/**
 * Plain-fetch helpers for the emulator's tests: tokens, URLs, zips and run submission. Deliberately not the
 * action's own clients, so the emulator is tested on its wire format alone.
 */
import { execFileSync } from 'node:child_process'
import type { Emulator } from '../../emulator/index.js'

/** The ARM path of the demo workspace. */
export function workspacePath(emulator: Emulator): string {
  const id = emulator.identity
  return `/subscriptions/${id.subscriptionId}/resourceGroups/${id.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${id.workspaceName}`
}

/** A data-plane URL of the demo workspace, e.g. `dataPlaneUrl(e, 'history/v1.0', '/experiments')`. */
export function dataPlaneUrl(emulator: Emulator, service: string, suffix: string): string {
  return `${emulator.url}/${service}${workspacePath(emulator)}${suffix}`
}

/** An ARM access token for a principal (the demo one by default), from the v2 endpoint. */
export async function getToken(emulator: Emulator, principal: { clientId: string; clientSecret: string } = emulator.identity): Promise<string> {
  const res = await fetch(`${emulator.url}/${emulator.identity.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: principal.clientId,
      client_secret: principal.clientSecret,
      scope: 'https://management.azure.com/.default'
    })
  })
  if (res.status !== 200) throw new Error(`token: HTTP ${res.status} ${await res.text()}`)
  return ((await res.json()) as { access_token: string }).access_token
}

const zips = new Map<string, Buffer>()

/** A zip (made by Python's zipfile) holding these files; cached, since Python takes a while to start. */
export function makeZip(files: Record<string, string>): Buffer {
  const key = JSON.stringify(files)
  let zip = zips.get(key)
  if (!zip) {
    zip = zipWithPython(files)
    zips.set(key, zip)
  }
  return zip
}

function zipWithPython(files: Record<string, string>): Buffer {
  const script = [
    'import io, json, sys, zipfile',
    'files = json.loads(sys.stdin.read())',
    'buf = io.BytesIO()',
    'with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:',
    '    for name, text in files.items(): z.writestr(name, text)',
    'sys.stdout.buffer.write(buf.getvalue())'
  ].join('\n')
  return execFileSync('python3', ['-c', script], { input: JSON.stringify(files) })
}

/** What to start a run with. */
export interface StartRunInput {
  experiment?: string
  runId?: string
  files: Record<string, string>
  definition: unknown
}

/** POSTs startrun as multipart/form-data (fetch builds the body) and returns the raw response. */
export async function startRun(emulator: Emulator, token: string, input: StartRunInput): Promise<Response> {
  const form = new FormData()
  form.append('runDefinitionFile', new Blob([JSON.stringify(input.definition)], { type: 'application/json' }), 'definition.json')
  form.append('projectZipFile', new Blob([makeZip(input.files)], { type: 'application/zip' }), 'project.zip')
  const query = input.runId ? `?runId=${encodeURIComponent(input.runId)}` : ''
  return fetch(dataPlaneUrl(emulator, 'execution/v1.0', `/experiments/${input.experiment ?? 'tests'}/startrun${query}`), {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}` },
    body: form
  })
}

/** Starts a run and returns its id (fails the test on any other answer than 200). */
export async function submit(emulator: Emulator, token: string, input: StartRunInput): Promise<string> {
  const res = await startRun(emulator, token, input)
  const body = (await res.json()) as { runId?: string }
  if (res.status !== 200 || !body.runId) throw new Error(`startrun: HTTP ${res.status} ${JSON.stringify(body)}`)
  return body.runId
}

/** GETs a run from run history. */
export async function getRunJson(emulator: Emulator, token: string, experiment: string, runId: string): Promise<Record<string, unknown>> {
  const res = await fetch(dataPlaneUrl(emulator, 'history/v1.0', `/experiments/${experiment}/runs/${runId}`), { headers: { Authorization: `Bearer ${token}` } })
  if (res.status !== 200) throw new Error(`get run: HTTP ${res.status} ${await res.text()}`)
  return (await res.json()) as Record<string, unknown>
}

/** Polls a run over HTTP until `done(status)`; returns the last run and every distinct status seen, in order. */
export async function pollRun(
  emulator: Emulator,
  token: string,
  experiment: string,
  runId: string,
  done: (status: string) => boolean = s => ['Completed', 'Failed', 'Canceled'].includes(s),
  timeoutMs = 20_000,
  intervalMs = 15
): Promise<{ run: Record<string, unknown>; seen: string[] }> {
  const seen: string[] = []
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const run = await getRunJson(emulator, token, experiment, runId)
    const status = String(run.status)
    if (seen[seen.length - 1] !== status) seen.push(status)
    if (done(status)) return { run, seen }
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${status} after ${timeoutMs} ms (seen ${seen.join(' → ')})`)
    await new Promise(r => setTimeout(r, intervalMs))
  }
}

/** A run definition in the swagger's camelCase. */
export function definition(script: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { configuration: { script, target: 'cpu-cluster', ...extra } }
}
