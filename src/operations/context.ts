import type { IdTokenSource } from '../auth/github-oidc.js'
import type { OutputName } from '../constants.js'
import type { PipelineOptions } from '../http/pipeline.js'
import type { Logger } from '../logger.js'

/** The GitHub run an action step belongs to, for run tags and links. */
export interface GitHubContext {
  repository?: string
  sha?: string
  ref?: string
  actor?: string
  workflow?: string
  eventName?: string
  serverUrl?: string
  runId?: string
  runAttempt?: string
}

/** How often the wait loop asks for the run's status: fast at first, then every `maxMs`. */
export interface PollingOptions {
  initialMs: number
  maxMs: number
  factor: number
  /** How long polls may keep failing (after the pipeline's own retries) before the action gives up. */
  failureBudgetMs: number
}

export const DEFAULT_POLLING: PollingOptions = { initialMs: 500, maxMs: 15_000, factor: 1.5, failureBudgetMs: 10 * 60_000 }

/**
 * What an operation gets from the edge: logging, outputs (set as soon as known, e.g. run-id right after the
 * start), saved state for the post step, the GitHub context, time, and the signal that the workflow was
 * cancelled. Tests build one directly; main.ts builds it from @actions/core.
 */
export interface OperationContext {
  logger: Logger
  setOutput(name: OutputName, value: string): void
  saveState(key: string, value: string): void
  github: GitHubContext
  now(): number
  /** Waits, resolving early when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
  /** Aborted when the workflow run is cancelled (SIGINT/SIGTERM). */
  signal: AbortSignal
  polling?: Partial<PollingOptions>
  pipeline?: Partial<Omit<PipelineOptions, 'logger' | 'hostPolicy'>>
  /** GitHub's ID token for an audience (core.getIDToken), for OIDC sign-in. */
  githubIdToken?: IdTokenSource
}

/** Thrown when the workflow is cancelled while the action waits for something. */
export class Aborted extends Error {
  constructor() {
    super('the workflow was cancelled')
    this.name = 'Aborted'
  }
}

/**
 * The promise's result, or Aborted as soon as the signal fires: a request hanging when the workflow is
 * cancelled must not delay cancelling the run (the runner kills the step 7.5 s after SIGINT).
 */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Aborted())
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Aborted())
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      value => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      error => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      }
    )
  })
}

/** A sleep that ends early on abort. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
