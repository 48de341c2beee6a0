import { open } from 'node:fs/promises'
import { issueAppToken } from './aad.js'
import type { Access, Caller } from './access.js'
import type { ArtifactStore } from './artifact-store.js'
import { HttpError } from './errors.js'
import { mediaType, readBody, type Reply, type RequestContext, type Route } from './http.js'
import { DRIVER_LOG, reportedStatus } from './runner.js'
import type { Settings } from './settings.js'
import { TERMINAL_STATUSES, workspaceArmId, type EmulatorState, type Principal, type RunRecord } from './state.js'
import type { TokenService } from './tokens.js'

const TAIL_BYTES = 8 * 1024
/** The studio's sign-in cookie: the same ARM access token a Bearer header would carry. */
const COOKIE = 'azureml_studio_token'
const READ = 'Microsoft.MachineLearningServices/workspaces/experiments/runs/read'

/** What the studio page needs. */
export interface StudioDeps {
  state: EmulatorState
  artifacts: ArtifactStore
  access: Access
  tokens: TokenService
  settings: Settings
}

/**
 * A small stand-in for the studio run page that the action's `run-url` points at when it talks to this
 * service: status, times, metrics and the end of the driver log, refreshing itself while the run is active.
 * Like Azure ML studio, it shows a run only to a signed-in principal with a role on the run's workspace:
 * signed in with a Bearer token (scripts, tests) or, in a browser, through its sign-in form (the client id
 * and secret of a service principal, as `az login --service-principal` takes them), which keeps the token
 * in an HttpOnly cookie. Without that, a browser gets only the sign-in page: no run data, not even whether
 * the run exists.
 */
export function studioRoutes(deps: StudioDeps): Route[] {
  return [
    { method: 'GET', pattern: '/studio/runs/{runId}', service: 'studio', handler: ctx => runPage(deps, ctx) },
    { method: 'POST', pattern: '/studio/signin', service: 'studio', handler: ctx => signIn(deps, ctx) }
  ]
}

async function runPage(deps: StudioDeps, ctx: RequestContext): Promise<Reply> {
  const here = `${ctx.path}${ctx.query.size ? `?${ctx.query.toString()}` : ''}`
  const caller = signedIn(deps, ctx)
  // 401 with Azure's Bearer challenge, as the APIs answer; the body is the sign-in page.
  if ('problem' in caller) return { ...html(401, signInPage(here, caller.problem)), headers: { ...htmlHeaders, ...caller.challenge } }
  const run = deps.state.findRun(ctx.params.runId)
  const wsid = ctx.query.get('wsid')
  if (!run || (wsid !== null && !sameWorkspace(run, wsid))) {
    return html(404, page('Run not found', `<p>There is no run <code>${esc(ctx.params.runId)}</code>${wsid ? ` in workspace <code>${esc(wsid)}</code>` : ''}.</p>`, false))
  }
  try {
    deps.access.authorize(ctx, caller, workspaceArmId(run.workspace), READ)
  } catch (err) {
    if (!(err instanceof HttpError)) throw err
    return html(403, page('No access to this run', `<p>${esc(err.message)}</p>`, false))
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

/** The caller from the Bearer header, else from the sign-in cookie; or why there is none. */
function signedIn(deps: StudioDeps, ctx: RequestContext): Caller | { problem: string; challenge: Record<string, string> } {
  const cookie = cookieValue(ctx.req.headers.cookie, COOKIE)
  if (!ctx.req.headers.authorization && cookie) ctx.req.headers.authorization = `Bearer ${cookie}`
  try {
    return deps.access.authenticate(ctx)
  } catch (err) {
    if (err instanceof HttpError) return { problem: ctx.req.headers.authorization ? `${err.message} Sign in again.` : 'Sign in to see this run.', challenge: err.headers }
    throw err
  }
}

/**
 * The sign-in form's POST: a service principal's client id and secret, checked as Azure AD checks them;
 * on success an ARM access token (the instance's lifetime) in an HttpOnly cookie for the studio pages, and
 * back to the page that asked. The form is the only way a browser can present a token here.
 */
async function signIn(deps: StudioDeps, ctx: RequestContext): Promise<Reply> {
  const form = mediaType(ctx.req) === 'application/x-www-form-urlencoded' ? new URLSearchParams((await readBody(ctx.req, 64 * 1024)).toString('utf8')) : new URLSearchParams()
  // Only back to a studio run page of this service: never an open redirect.
  const requested = form.get('return') ?? ''
  const back = /^\/studio\/runs\/[^/?#\\]+(\?[^#\\]*)?$/.test(requested) ? requested : undefined
  const found = findPrincipal(deps.state, form.get('client_id') ?? '')
  const secret = form.get('client_secret') ?? ''
  if (!found || !secret || !found.principal.secrets.includes(secret)) {
    return html(401, signInPage(back ?? '', 'The client id or the client secret is not right.'))
  }
  const { principal, tenantId } = found
  const lifetime = deps.settings.tokenLifetimeSeconds
  const { token } = issueAppToken(deps.tokens, tenantId, principal, deps.settings.armAudiences[0], lifetime)
  const secure = ctx.baseUrl.startsWith('https:') ? '; Secure' : ''
  const cookie = `${COOKIE}=${token}; Path=/studio; Max-Age=${lifetime}; HttpOnly; SameSite=Strict${secure}`
  if (!back) return { ...html(200, page('Signed in', '<p>Signed in. Open the run link again.</p>', false)), headers: { ...htmlHeaders, 'Set-Cookie': cookie } }
  return { status: 303, headers: { Location: back, 'Set-Cookie': cookie, 'Cache-Control': 'no-store' } }
}

function findPrincipal(state: EmulatorState, clientId: string): { principal: Principal; tenantId: string } | undefined {
  for (const tenant of state.tenants.values()) {
    const principal = tenant.principals.get(clientId.toLowerCase())
    if (principal) return { principal, tenantId: tenant.tenantId }
  }
  return undefined
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=')
    if (key === name && value.length) return value.join('=')
  }
  return undefined
}

/** The sign-in page: why, and the form; nothing about the run. */
function signInPage(returnTo: string, problem: string): string {
  return page(
    'Sign in to Azure Machine Learning studio',
    `<p>${esc(problem)} This local service shows a run only to a principal with a role on the run's workspace, as Azure ML studio does once you sign in.</p>
<form method="post" action="/studio/signin">
<input type="hidden" name="return" value="${esc(returnTo)}">
<p><label>Client id <input name="client_id" autocomplete="username" size="40" required></label></p>
<p><label>Client secret <input name="client_secret" type="password" autocomplete="current-password" size="40" required></label></p>
<p><button type="submit">Sign in</button></p>
</form>
<p>Use the service principal printed by <code>npm run emulator</code>.</p>`,
    false
  )
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

const htmlHeaders = { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }

function html(status: number, body: string): Reply {
  return { status, headers: htmlHeaders, body }
}

/** Escapes text for HTML element content and attribute values. */
export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}
