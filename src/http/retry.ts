import type { IncomingHttpHeaders } from 'node:http'

/** How the request pipeline retries: Azure's Retry-After first, else exponential backoff with jitter. */
export interface RetryOptions {
  /** Retries after the first attempt. */
  maxRetries: number
  baseDelayMs: number
  maxDelayMs: number
  /** A Retry-After longer than this is cut to it, so a misbehaving proxy cannot park the job for hours. */
  maxRetryAfterMs: number
}

export const DEFAULT_RETRY: RetryOptions = { maxRetries: 5, baseDelayMs: 800, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 }

/** Statuses Azure documents as transient. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504])

/**
 * Statuses that mean the request was not processed, so even a non-idempotent call may be sent again.
 * (500/502/504 may come after the service acted.)
 */
export const NOT_PROCESSED_STATUSES: ReadonlySet<number> = new Set([408, 429, 503])

const RETRYABLE_ERROR_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT'])

/** Whether a failure without an HTTP answer is worth another attempt. */
export function isTransientConnectionError(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined
  if (!e) return false
  if (e.code && RETRYABLE_ERROR_CODES.has(e.code)) return true
  return /socket hang up|Request timeout|timed out|other side closed|terminated/i.test(e.message ?? '')
}

/** Whether the request surely never reached the service (safe to resend anything). */
export function neverReachedService(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENETUNREACH' || code === 'EHOSTUNREACH'
}

/** The wait an answer asks for: retry-after-ms, x-ms-retry-after-ms, then Retry-After (seconds or HTTP date). */
export function retryAfterMs(headers: IncomingHttpHeaders, now: number): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const v = Number(headers[name])
    if (headers[name] !== undefined && Number.isFinite(v) && v >= 0) return v
  }
  const raw = headers['retry-after']
  if (typeof raw !== 'string' || raw.trim() === '') return undefined
  const seconds = Number(raw)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(raw)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** Exponential backoff with "equal jitter": half fixed, half random, capped. `retry` counts from 0. */
export function backoffMs(retry: number, options: RetryOptions, random: () => number = Math.random): number {
  const exponential = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** retry)
  return Math.round(exponential / 2 + random() * (exponential / 2))
}
