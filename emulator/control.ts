import { armError } from './errors.js'
import type { FaultController, FaultSpec } from './faults.js'
import type { WorkflowJobSpec } from './github-oidc.js'
import { json, readBody, type RequestContext, type Route } from './http.js'
import type { RequestRecord } from './server.js'
import type { FederatedCredential } from './state.js'

/** The runtime knobs the control API can change. */
export interface ConfigChange {
  tokenLifetimeSeconds?: number
  runPhaseDelayMs?: number
  sasLifetimeSeconds?: number
  provisioningDelayMs?: number
  /** Lifetime of the GitHub OIDC ID tokens issued from now on. */
  idTokenLifetimeSeconds?: number
}

/** What the control API acts on (implemented by the emulator instance). */
export interface ControlTarget {
  faults: FaultController
  requests: RequestRecord[]
  /** Applies a config change (throws on invalid values) and returns the current values. */
  configure(change: ConfigChange): Required<ConfigChange>
  /** Makes a run report `status` for `seconds` (throws when the run is unknown or finished). */
  holdRun(runId: string, status: 'NotResponding' | 'CancelRequested', seconds: number): void
  /** What tests may read about a run, or undefined. */
  getRun(runId: string): unknown
  /** Registers a workflow job with GitHub's OIDC stand-in: its ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN. */
  githubJob(spec: WorkflowJobSpec): unknown
  /** Adds a federated credential to an app (the demo app without `clientId`). */
  addFederatedCredential(credential: { name: string; subject: string; issuer?: string; audiences?: string[] }, clientId?: string): void
  federatedCredentials(clientId?: string): FederatedCredential[]
}

/**
 * The emulator's own API under `/_emulator/` (no token, never an Azure path): faults, runtime config, run
 * holds and the request log, so tests in another process (or a user with curl) can drive the emulator.
 */
export function controlRoutes(target: ControlTarget): Route[] {
  const route = (method: string, pattern: string, handler: Route['handler']): Route => ({ method, pattern, service: 'control', handler })
  return [
    route('GET', '/_emulator/faults', () => json(200, { value: target.faults.list() })),
    route('POST', '/_emulator/faults', async ctx => {
      const spec = await body(ctx)
      try {
        return json(201, { id: target.faults.add(spec as unknown as FaultSpec) })
      } catch (err) {
        throw armError(400, 'InvalidFault', (err as Error).message)
      }
    }),
    route('DELETE', '/_emulator/faults', () => {
      target.faults.clear()
      return { status: 204 }
    }),
    route('DELETE', '/_emulator/faults/{id}', ctx => {
      if (!target.faults.remove(ctx.params.id)) throw armError(404, 'NotFound', `No fault with id '${ctx.params.id}'.`)
      return { status: 204 }
    }),
    route('GET', '/_emulator/config', () => json(200, target.configure({}))),
    route('POST', '/_emulator/config', async ctx => {
      const change = await body(ctx)
      try {
        return json(200, target.configure(change as ConfigChange))
      } catch (err) {
        throw armError(400, 'InvalidConfig', (err as Error).message)
      }
    }),
    route('GET', '/_emulator/runs/{runId}', ctx => {
      const run = target.getRun(ctx.params.runId)
      if (!run) throw armError(404, 'NotFound', `No run '${ctx.params.runId}'.`)
      return json(200, run)
    }),
    route('POST', '/_emulator/runs/{runId}/hold', async ctx => {
      const b = (await body(ctx)) as { status?: unknown; seconds?: unknown }
      if (b.status !== 'NotResponding' && b.status !== 'CancelRequested') throw armError(400, 'InvalidHold', "'status' must be 'NotResponding' or 'CancelRequested'.")
      if (typeof b.seconds !== 'number' || !(b.seconds > 0)) throw armError(400, 'InvalidHold', "'seconds' must be a positive number.")
      if (!target.getRun(ctx.params.runId)) throw armError(404, 'NotFound', `No run '${ctx.params.runId}'.`)
      try {
        target.holdRun(ctx.params.runId, b.status, b.seconds)
      } catch (err) {
        throw armError(409, 'RunFinished', (err as Error).message)
      }
      return json(200, { runId: ctx.params.runId, status: b.status, seconds: b.seconds })
    }),
    route('POST', '/_emulator/github/jobs', async ctx => {
      try {
        return json(201, target.githubJob((await body(ctx)) as unknown as WorkflowJobSpec))
      } catch (err) {
        throw armError(400, 'InvalidJob', (err as Error).message)
      }
    }),
    route('GET', '/_emulator/federated-credentials', ctx => {
      try {
        return json(200, { value: target.federatedCredentials(ctx.query.get('clientId') ?? undefined) })
      } catch (err) {
        throw armError(404, 'NotFound', (err as Error).message)
      }
    }),
    route('POST', '/_emulator/federated-credentials', async ctx => {
      const b = await body(ctx)
      const strings = (v: unknown) => Array.isArray(v) && v.every(a => typeof a === 'string')
      if (typeof b.name !== 'string' || typeof b.subject !== 'string' || (b.issuer !== undefined && typeof b.issuer !== 'string') || (b.audiences !== undefined && !strings(b.audiences))) {
        throw armError(400, 'InvalidFederatedCredential', "'name' and 'subject' are required strings; 'issuer' a string and 'audiences' an array of strings when given.")
      }
      try {
        target.addFederatedCredential(
          { name: b.name, subject: b.subject, issuer: b.issuer as string | undefined, audiences: b.audiences as string[] | undefined },
          typeof b.clientId === 'string' ? b.clientId : undefined
        )
      } catch (err) {
        throw armError(400, 'InvalidFederatedCredential', (err as Error).message)
      }
      return json(201, b)
    }),
    route('GET', '/_emulator/requests', () => json(200, { value: target.requests })),
    route('DELETE', '/_emulator/requests', () => {
      target.requests.length = 0
      return { status: 204 }
    })
  ]
}

async function body(ctx: RequestContext): Promise<Record<string, unknown>> {
  const raw = (await readBody(ctx.req, 1024 * 1024)).toString('utf8')
  try {
    const value: unknown = raw.trim() === '' ? {} : JSON.parse(raw)
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>
  } catch {
    // answered below
  }
  throw armError(400, 'InvalidJson', 'The body must be a JSON object.')
}
