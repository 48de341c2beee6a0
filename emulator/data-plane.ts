import type { Access, Caller } from './access.js'
import type { ArtifactStore } from './artifact-store.js'
import type { BlobSigner } from './blob.js'
import { dataPlaneError, modelError } from './errors.js'
import type { RequestContext } from './http.js'
import type { RunExecutor } from './runner.js'
import type { Settings } from './settings.js'
import type { EmulatorState, Workspace } from './state.js'

/** What the data-plane services (history, execution, artifacts) share. */
export interface DataPlaneDeps {
  state: EmulatorState
  access: Access
  settings: Settings
  artifacts: ArtifactStore
  blob: BlobSigner
  runner: RunExecutor
}

/** The path prefix of one workspace on a data-plane service. */
export function workspacePrefix(service: string): string {
  return `/${service}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}`
}

/**
 * Authenticates the caller, finds the workspace and checks the caller's role on it. `run` names the run
 * the request is about: a run token is accepted only when it is that run's own token.
 */
export function resolveWorkspace(deps: DataPlaneDeps, ctx: RequestContext, action: string, run?: string): { caller: Caller; ws: Workspace } {
  const caller = deps.access.authenticate(ctx)
  const { sub, rg, ws: name } = ctx.params
  const lookup = deps.state.lookupWorkspace(sub, rg, name)
  const scope = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.MachineLearningServices/workspaces/${name}`
  if (lookup.found !== 'none') deps.access.authorize(ctx, caller, scope, action, run === undefined ? undefined : { runId: run, workspace: scope })
  // A workspace still being created (or whose creation failed) has no regional services yet.
  if (lookup.found !== 'workspace' || lookup.workspace.provisioningState !== 'Succeeded') {
    const message = `Workspace '${name}' was not found in resource group '${rg}' of subscription '${sub}'.`
    if (ctx.service === 'modelManagement') throw modelError(404, 'NotFound', message, [{ code: 'WorkspaceNotFound', message }])
    throw dataPlaneError(404, 'UserError', message, { innerCode: 'NotFoundError' })
  }
  return { caller, ws: lookup.workspace }
}

/** A query parameter looked up case-insensitively, accepting each alias (`$top`, `top`, …). */
export function queryParam(ctx: RequestContext, ...names: string[]): string | null {
  const wanted = names.map(n => n.toLowerCase())
  for (const [key, value] of ctx.query) if (wanted.includes(key.toLowerCase())) return value
  return null
}

/** The URL of the next page: this request with the continuation token replaced. */
export function nextLink(ctx: RequestContext, name: string, token: string | null, aliases = ['$continuationtoken', 'continuationtoken']): string | null {
  if (token === null) return null
  const url = new URL(ctx.path, ctx.baseUrl)
  for (const [k, v] of ctx.query) if (!aliases.includes(k.toLowerCase())) url.searchParams.append(k, v)
  url.searchParams.set(name, token)
  return url.toString()
}

/** Parses a JSON request body, or a 400 ErrorResponse. */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw dataPlaneError(400, 'UserError', `The request body is not valid JSON: ${(err as Error).message}`, { innerCode: 'BadArgument' })
  }
}
