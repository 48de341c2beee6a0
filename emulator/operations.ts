import { randomUUID } from 'node:crypto'
import type { Access } from './access.js'
import { checkApiVersion } from './arm.js'
import { armError } from './errors.js'
import { json, type Reply, type RequestContext, type Route } from './http.js'
import type { Settings } from './settings.js'
import type { ArmErrorInfo, EmulatorState } from './state.js'

/** Where an ARM long-running operation is (Azure-AsyncOperation's vocabulary). */
export type OperationStatus = 'InProgress' | 'Succeeded' | 'Failed'

/** How an operation ended badly: the error, and the HTTP status its Location URL answers with. */
export interface OperationFailure {
  status: number
  error: ArmErrorInfo
}

/** What starting an operation needs. */
export interface OperationWork {
  subscriptionId: string
  location: string
  /**
   * Runs once the provisioning delay has passed: applies the outcome to the resource (Succeeded, Failed,
   * gone) and returns the failure, if any. Deciding only then lets a test change the world in between.
   */
  complete: () => OperationFailure | null
  /** What the Location URL answers once the operation succeeded (the resource body, or a bare 204). */
  result: (ctx: RequestContext) => Reply
}

/** One long-running operation of ARM. */
export interface ArmOperation {
  id: string
  subscriptionId: string
  location: string
  status: OperationStatus
  startTime: string
  endTime: string | null
  failure: OperationFailure | null
  result: (ctx: RequestContext) => Reply
}

const PROVIDER = 'providers/Microsoft.MachineLearningServices/locations'

/**
 * ARM's long-running operations (reference §2.4): each PUT/DELETE that provisions starts one, which ends after
 * `provisioningDelayMs`. Clients poll either URL: the Azure-AsyncOperation one (a status body) or the Location
 * one (202 while running, then the result or the error with its HTTP status).
 */
export class OperationTracker {
  private readonly operations = new Map<string, ArmOperation>()
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor(private readonly settings: Settings) {}

  /** Starts an operation that completes after the current provisioning delay. */
  start(work: OperationWork): ArmOperation {
    const op: ArmOperation = {
      id: randomUUID(),
      subscriptionId: work.subscriptionId,
      location: work.location,
      status: 'InProgress',
      startTime: new Date().toISOString(),
      endTime: null,
      failure: null,
      result: work.result
    }
    this.operations.set(op.id, op)
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      op.failure = work.complete()
      op.status = op.failure ? 'Failed' : 'Succeeded'
      op.endTime = new Date().toISOString()
    }, this.settings.provisioningDelayMs)
    // The server keeps the process alive; a pending provisioning must not (close() clears them anyway).
    timer.unref()
    this.timers.add(timer)
    return op
  }

  get(id: string): ArmOperation | undefined {
    return this.operations.get(id.toLowerCase())
  }

  /** The Azure-AsyncOperation URL of an operation. */
  statusUrl(baseUrl: string, op: ArmOperation): string {
    return `${baseUrl}/subscriptions/${op.subscriptionId}/${PROVIDER}/${op.location}/operationStatuses/${op.id}?api-version=2019-11-01`
  }

  /** The Location URL of an operation. */
  resultUrl(baseUrl: string, op: ArmOperation): string {
    return `${baseUrl}/subscriptions/${op.subscriptionId}/${PROVIDER}/${op.location}/operationResults/${op.id}?api-version=2019-11-01`
  }

  /** Drops pending completions (the emulator is closing). */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }
}

/** What the operation routes need. */
export interface OperationDeps {
  state: EmulatorState
  access: Access
  operations: OperationTracker
}

/** The two polling URLs of ARM long-running operations. */
export function operationRoutes(deps: OperationDeps): Route[] {
  const base = `/subscriptions/{sub}/${PROVIDER}/{location}`
  const route = (pattern: string, handler: (ctx: RequestContext) => Reply): Route => ({ method: 'GET', pattern, service: 'arm', handler })
  return [
    route(`${base}/operationStatuses/{operationId}`, ctx => {
      const op = resolveOperation(deps, ctx)
      const body: Record<string, unknown> = {
        id: `/subscriptions/${op.subscriptionId}/${PROVIDER}/${op.location}/operationStatuses/${op.id}`,
        name: op.id,
        status: op.status,
        startTime: op.startTime
      }
      if (op.endTime) body.endTime = op.endTime
      if (op.failure) body.error = op.failure.error
      return json(200, body, op.status === 'InProgress' ? { 'Retry-After': '1' } : {})
    }),
    route(`${base}/operationResults/{operationId}`, ctx => {
      const op = resolveOperation(deps, ctx)
      if (op.status === 'InProgress') {
        const self = new URL(ctx.path, ctx.baseUrl)
        for (const [k, v] of ctx.query) self.searchParams.append(k, v)
        return { status: 202, headers: { Location: self.toString(), 'Retry-After': '1' } }
      }
      if (op.failure) throw armError(op.failure.status, op.failure.error.code, op.failure.error.message, {}, op.failure.error.details)
      return op.result(ctx)
    })
  ]
}

function resolveOperation(deps: OperationDeps, ctx: RequestContext): ArmOperation {
  const caller = deps.access.authenticate(ctx)
  checkApiVersion(ctx, 'locations/operationstatuses', deps.state)
  const { sub, operationId } = ctx.params
  if (!deps.state.subscriptions.has(sub.toLowerCase())) throw armError(404, 'SubscriptionNotFound', `The subscription '${sub}' could not be found.`)
  deps.access.authorize(ctx, caller, `/subscriptions/${sub}`, 'Microsoft.MachineLearningServices/locations/operationstatuses/read')
  const op = deps.operations.get(operationId)
  if (!op || op.subscriptionId.toLowerCase() !== sub.toLowerCase() || op.location.toLowerCase() !== ctx.params.location.toLowerCase()) {
    throw armError(404, 'OperationNotFound', `The operation '${operationId}' was not found in location '${ctx.params.location}' of subscription '${sub}'.`)
  }
  return op
}
