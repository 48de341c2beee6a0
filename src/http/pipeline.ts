import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import { setTimeout as sleepFor } from 'node:timers/promises'
import { HttpClient } from '@actions/http-client'
import type { TokenCredential } from '../auth/token-credential.js'
import { ActionError } from '../errors.js'
import type { Logger } from '../logger.js'
import { AzureRequestError, ConnectionError, excerpt, parseErrorBody, requestIdOf, UnexpectedAnswerError } from './errors.js'
import type { HostPolicy } from './host-policy.js'
import { redactText, redactUrl } from './redact.js'
import {
  backoffMs,
  DEFAULT_RETRY,
  isTransientConnectionError,
  neverReachedService,
  NOT_PROCESSED_STATUSES,
  RETRYABLE_STATUSES,
  retryAfterMs,
  type RetryOptions
} from './retry.js'

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** How a request authenticates. */
export type RequestAuth =
  /** Azure AD bearer token; the host policy decides where it may go. */
  | { kind: 'aad'; credential: TokenCredential }
  /** A key sent as a header (scoring keys, classic web service keys, APIM subscription keys). */
  | { kind: 'key'; headers: Record<string, string> }
  | { kind: 'none' }

/** A body that can be produced again for every attempt (a streamed file cannot be replayed). */
export interface StreamBody {
  contentType: string
  length: number
  open(): Readable
}

export interface RequestSpec {
  method: HttpMethod
  url: string
  /** What the action is doing, for errors and the debug log: "starting run in experiment 'x'". */
  operation: string
  auth: RequestAuth
  headers?: Record<string, string>
  /** JSON body (sets Content-Type). */
  json?: unknown
  /** A text body with its content type. */
  text?: { body: string; contentType: string }
  stream?: StreamBody
  /**
   * Whether sending the request twice is harmless. Defaults to true for everything but POST.
   * A non-idempotent request is only resent when the service surely did not process it (429, 503, refused).
   */
  idempotent?: boolean
  /**
   * Statuses worth another attempt for this request (default RETRYABLE_STATUSES). Scoring narrows it to a
   * cold endpoint's 502/503: a model's 500 is its answer to this input and would only come again.
   */
  retryStatuses?: ReadonlySet<number>
  /** Statuses outside 2xx that are answers, not errors (e.g. 404 when probing, 416 for a range past the end). */
  okStatuses?: readonly number[]
  /** Idle-socket timeout for this request. */
  timeoutMs?: number
  /** Read the body as bytes instead of text. */
  binary?: boolean
}

export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  /** Body as text ('' when `binary`). */
  text: string
  /** Body bytes when `binary` was asked for. */
  bytes?: Buffer
  requestId?: string
  /** The body parsed as JSON; a non-JSON answer becomes a clear error naming the operation and request id. */
  json<T>(): T
  header(name: string): string | undefined
  /** The error for a successful answer of an unexpected shape: "<operation>: HTTP 200 but <problem> (x-ms-request-id: …)". */
  unexpected(problem: string): ActionError
}

export interface PipelineOptions {
  logger: Logger
  hostPolicy: HostPolicy
  retry?: Partial<RetryOptions>
  /** Default idle-socket timeout per attempt. */
  timeoutMs?: number
  userAgent?: string
  /** Waits between attempts; ends early when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Aborted when the workflow is cancelled: a retry wait ends, and one last attempt is made at once. */
  signal?: AbortSignal
  now?: () => number
  random?: () => number
}

const DEFAULT_TIMEOUT_MS = 100_000

/**
 * The one way the action talks HTTP. Built on @actions/http-client so runner proxies apply to every call.
 * Per attempt it re-reads the bearer token (a refreshed token is used), adds `x-ms-client-request-id`,
 * retries transient failures (Retry-After first, else jittered backoff), refreshes the token once on a 401,
 * and turns error answers into AzureRequestError carrying status, Azure code, message and request id.
 */
export class Pipeline {
  readonly logger: Logger
  readonly hostPolicy: HostPolicy
  private readonly retry: RetryOptions
  private readonly timeoutMs: number
  private readonly userAgent: string
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  private readonly signal?: AbortSignal
  private readonly now: () => number
  private readonly random: () => number
  private readonly clients = new Map<number, HttpClient>()
  /** Number of HTTP attempts made, for the benchmark and the request-budget tests. */
  attempts = 0

  constructor(options: PipelineOptions) {
    this.logger = options.logger
    this.hostPolicy = options.hostPolicy
    this.retry = { ...DEFAULT_RETRY, ...options.retry }
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.userAgent = options.userAgent ?? 'azureml-github-action'
    this.sleep = options.sleep ?? ((ms, signal) => sleepFor(ms, undefined, { signal }).catch(() => undefined))
    this.signal = options.signal
    this.now = options.now ?? Date.now
    this.random = options.random ?? Math.random
  }

  async send(spec: RequestSpec): Promise<HttpResponse> {
    const url = spec.url
    if (spec.auth.kind === 'aad') this.hostPolicy.assertTokenAllowed(url, spec.operation)
    else this.hostPolicy.assertTransport(url, spec.operation)
    const host = new URL(url).host
    const idempotent = spec.idempotent ?? spec.method !== 'POST'
    const clientRequestId = randomUUID()
    let refreshedAfter401 = false
    let forceRefresh = false
    // Once the workflow is cancelled, retries do not wait: one more attempt is made at once, and that is the last.
    let lastChance = false
    let attempt = 0
    for (;;) {
      attempt++
      const started = this.now()
      let response: HttpResponse
      try {
        const headers = await this.headersFor(spec, clientRequestId, forceRefresh)
        forceRefresh = false
        response = await this.attempt(spec, headers)
      } catch (error) {
        if (error instanceof ActionError) throw error
        const retryable = isTransientConnectionError(error) && (idempotent || neverReachedService(error))
        // http-client's messages quote the request path, query (and so a SAS signature) included.
        const failure = Object.assign(new Error(redactText((error as Error).message)), { code: (error as { code?: string }).code })
        this.logger.debug(`${spec.method} ${redactUrl(url)} failed in ${this.now() - started} ms: ${failure.message}`)
        if (retryable && attempt <= this.retry.maxRetries && !lastChance) {
          const delay = backoffMs(attempt - 1, this.retry, this.random)
          this.logger.info(`${spec.operation}: ${(error as { code?: string }).code ?? 'connection error'} from ${host}; retrying in ${formatDelay(delay)} (attempt ${attempt + 1} of ${this.retry.maxRetries + 1})`)
          lastChance = await this.pause(delay, spec.operation)
          continue
        }
        throw new ConnectionError(spec.operation, host, failure, attempt)
      }
      this.logger.debug(`${spec.method} ${redactUrl(url)} → ${response.status} in ${this.now() - started} ms${response.requestId ? ` (x-ms-request-id ${response.requestId})` : ''}`)

      if ((response.status >= 200 && response.status < 300) || spec.okStatuses?.includes(response.status)) return response

      if (response.status === 401 && spec.auth.kind === 'aad' && !refreshedAfter401) {
        // A token can be revoked or expire early; one fresh token is worth a try before failing.
        refreshedAfter401 = true
        forceRefresh = true
        this.logger.debug(`${spec.operation}: 401, refreshing the Azure AD token and trying once more`)
        continue
      }
      const retryable = (spec.retryStatuses ?? RETRYABLE_STATUSES).has(response.status) && (idempotent || NOT_PROCESSED_STATUSES.has(response.status))
      if (retryable && attempt <= this.retry.maxRetries && !lastChance) {
        const asked = retryAfterMs(response.headers, this.now())
        const delay = asked !== undefined ? Math.min(asked, this.retry.maxRetryAfterMs) : backoffMs(attempt - 1, this.retry, this.random)
        this.logger.info(`${spec.operation}: HTTP ${response.status} from ${host}; retrying in ${formatDelay(delay)} (attempt ${attempt + 1} of ${this.retry.maxRetries + 1})`)
        lastChance = await this.pause(delay, spec.operation)
        continue
      }
      const parsed = parseErrorBody(response.status, response.headers, response.text)
      throw new AzureRequestError({
        operation: spec.operation,
        status: response.status,
        code: parsed.code,
        message: parsed.message,
        requestId: response.requestId ?? parsed.requestId,
        attempts: attempt
      })
    }
  }

  /**
   * The wait before another attempt. A cancelled workflow ends it (a Retry-After may ask for minutes, and the
   * runner kills the step 7.5 s after SIGINT): then the next attempt, made at once, is the last — a request
   * sent after the cancellation (cancelling the run) still gets over a stale connection. True when so.
   */
  private async pause(ms: number, operation: string): Promise<boolean> {
    if (!this.signal?.aborted) await this.sleep(ms, this.signal)
    if (!this.signal?.aborted) return false
    this.logger.info(`${operation}: the workflow was cancelled; trying once more now, without waiting`)
    return true
  }

  /** Closes kept-alive sockets so the process can exit. */
  dispose(): void {
    for (const client of this.clients.values()) client.dispose()
    this.clients.clear()
  }

  private async headersFor(spec: RequestSpec, clientRequestId: string, forceRefresh: boolean): Promise<OutgoingHttpHeaders> {
    const headers: OutgoingHttpHeaders = {
      accept: 'application/json',
      'x-ms-client-request-id': clientRequestId,
      ...lowerKeys(spec.headers ?? {})
    }
    if (spec.auth.kind === 'aad') {
      headers.authorization = `Bearer ${await spec.auth.credential.getToken({ forceRefresh })}`
    } else if (spec.auth.kind === 'key') {
      Object.assign(headers, lowerKeys(spec.auth.headers))
    }
    return headers
  }

  private async attempt(spec: RequestSpec, headers: OutgoingHttpHeaders): Promise<HttpResponse> {
    this.attempts++
    const client = this.clientFor(spec.timeoutMs ?? this.timeoutMs)
    let data: string | NodeJS.ReadableStream | null = null
    if (spec.json !== undefined) {
      data = JSON.stringify(spec.json)
      headers['content-type'] ??= 'application/json; charset=utf-8'
    } else if (spec.text) {
      data = spec.text.body
      headers['content-type'] ??= spec.text.contentType
    } else if (spec.stream) {
      data = spec.stream.open()
      headers['content-type'] = spec.stream.contentType
      headers['content-length'] = spec.stream.length
    }
    if (typeof data === 'string') headers['content-length'] = Buffer.byteLength(data)
    else if (data === null && ['POST', 'PUT', 'PATCH'].includes(spec.method)) headers['content-length'] = 0
    const res = await client.request(spec.method, spec.url, data, headers)
    const status = res.message.statusCode ?? 0
    const resHeaders = res.message.headers
    const body = await readWholeBody(res.message)
    const binary = spec.binary && status >= 200 && status < 300
    const text = binary ? '' : body.toString('utf8')
    const bytes = binary ? body : undefined
    const requestId = requestIdOf(resHeaders)
    const where = requestId ? ` (x-ms-request-id: ${requestId})` : ''
    return {
      status,
      headers: resHeaders,
      text,
      bytes,
      requestId,
      header: (name: string) => {
        const v = resHeaders[name.toLowerCase()]
        return Array.isArray(v) ? v.join(', ') : v
      },
      json<T>(): T {
        try {
          return JSON.parse(text) as T
        } catch {
          const what = text.trim() ? `'${excerpt(text, 120)}'` : 'an empty body'
          throw new UnexpectedAnswerError(`${spec.operation}: HTTP ${status} but the answer is not JSON (got ${what})${where}`, status, {
            hint: 'A proxy or gateway may have answered instead of Azure, or the connection was cut; run again with ACTIONS_STEP_DEBUG=true to see each request.'
          })
        }
      },
      unexpected: (problem: string) => new UnexpectedAnswerError(`${spec.operation}: HTTP ${status} but ${problem}${where}`, status)
    }
  }

  private clientFor(timeoutMs: number): HttpClient {
    let client = this.clients.get(timeoutMs)
    if (!client) {
      client = new HttpClient(this.userAgent, [], {
        allowRetries: false,
        maxRetries: 0,
        allowRedirects: false,
        keepAlive: true,
        socketTimeout: timeoutMs
      })
      this.clients.set(timeoutMs, client)
    }
    return client
  }
}

/**
 * The whole body of an answer. @actions/http-client's readBody waits for 'end' only, so an answer cut off
 * mid-body would hang forever; here a close before the end is a connection reset (and retried as one).
 */
function readWholeBody(message: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const cutOff = () => reject(Object.assign(new Error('the connection closed before the whole answer arrived'), { code: 'ECONNRESET' }))
    message.on('data', (chunk: Buffer) => chunks.push(chunk))
    message.once('end', () => resolve(Buffer.concat(chunks)))
    message.once('error', error => reject(Object.assign(error, { code: (error as NodeJS.ErrnoException).code ?? 'ECONNRESET' })))
    message.once('aborted', cutOff)
    message.once('close', () => {
      if (!message.complete) cutOff()
    })
  })
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))
}

function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`
}
