import { ActionError } from '../errors.js'
import type { HttpResponse, Pipeline, RequestAuth } from './pipeline.js'
import { retryAfterMs } from './retry.js'

/** How a long-running operation is waited for (time injected, so tests run instantly). */
export interface OperationTiming {
  sleep: (ms: number) => Promise<void>
  now: () => number
  /** Give up waiting after this long. */
  timeoutMs: number
  /** Called with each status seen ("InProgress", "202"). */
  onProgress?: (status: string) => void
  /** Aborted when the workflow is cancelled: the wait stops (the operation itself goes on in Azure). */
  signal?: AbortSignal
}

export interface LongRunningOptions extends OperationTiming {
  pipeline: Pipeline
  auth: RequestAuth
  /** What is being done, for messages: "creating compute 'cpu'". */
  operation: string
  /** Poll interval when the service gives no Retry-After. */
  defaultIntervalMs?: number
}

const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'cancelled'])

/**
 * Follows an ARM long-running operation to its end, as ARM documents it: the `Azure-AsyncOperation` URL
 * when present (its body's `status` goes to Succeeded / Failed / Canceled), else the `Location` URL (202
 * while running, 200/201/204 when done), waiting as `Retry-After` says. A failed operation becomes an
 * ActionError carrying the operation's error code and message. Returns the final Location answer, if any.
 */
export async function waitForLongRunning(initial: HttpResponse, options: LongRunningOptions): Promise<HttpResponse | undefined> {
  const asyncOperation = initial.header('azure-asyncoperation')
  const location = initial.header('location')
  if (!asyncOperation && !location) return undefined
  const deadline = options.now() + options.timeoutMs
  let last = initial
  for (;;) {
    stopIfCancelled(options)
    const asked = retryAfterMs(last.headers, options.now())
    const wait = Math.max(200, asked ?? options.defaultIntervalMs ?? 5000)
    if (options.now() + wait > deadline) {
      throw new ActionError(`${options.operation}: still not done after ${Math.round(options.timeoutMs / 60_000)} min; giving up waiting (the operation goes on in Azure)`, {
        hint: 'Set timeout-minutes to wait longer.'
      })
    }
    await options.sleep(wait)
    // The sleep ends early on cancellation; polling on would send request after request with no pause.
    stopIfCancelled(options)
    if (asyncOperation) {
      last = await options.pipeline.send({ method: 'GET', url: asyncOperation, operation: `${options.operation} (checking the operation)`, auth: options.auth })
      const body = last.json<{ status?: string; error?: { code?: string; message?: string } }>()
      const status = typeof body?.status === 'string' ? body.status : ''
      options.onProgress?.(status || 'unknown')
      if (!TERMINAL.has(status.toLowerCase())) continue
      if (status.toLowerCase() === 'succeeded') return undefined
      const code = body.error?.code ?? status
      const message = body.error?.message ?? `the operation ended ${status}`
      throw new ActionError(`${options.operation}: the operation ended ${status}: ${code}: ${message}${last.requestId ? ` (x-ms-request-id: ${last.requestId})` : ''}`)
    }
    last = await options.pipeline.send({
      method: 'GET',
      url: location as string,
      operation: `${options.operation} (checking the operation)`,
      auth: options.auth
    })
    options.onProgress?.(`${last.status}`)
    if (last.status !== 202) return last
  }
}

/** A cancelled workflow stops the wait, not the operation: ARM has no cancel for it, so say where it goes on. */
function stopIfCancelled(options: LongRunningOptions): void {
  if (!options.signal?.aborted) return
  throw new ActionError(`${options.operation}: the workflow was cancelled; stopped waiting (the operation goes on in Azure; follow it in the Azure portal)`)
}
