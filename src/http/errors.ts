import type { IncomingHttpHeaders } from 'node:http'
import { ActionError } from '../errors.js'
import { hintFor } from './hints.js'

/**
 * An HTTP call that did not succeed: the status, the Azure error code and message taken from whichever of
 * Azure's error shapes came back (ARM, data plane, model management, Azure AD, storage XML), the request id,
 * and what the action was doing. Its message reads "reading workspace 'ws': HTTP 404 ResourceNotFound: … (x-ms-request-id: …)".
 */
export class AzureRequestError extends ActionError {
  readonly status: number
  readonly code: string
  readonly azureMessage: string
  readonly requestId?: string
  readonly operation: string
  /** How many attempts were made before giving up. */
  readonly attempts: number
  constructor(init: { operation: string; status: number; code: string; message: string; requestId?: string; attempts?: number; hint?: string }) {
    const attempts = init.attempts ?? 1
    const id = init.requestId ? ` (x-ms-request-id: ${init.requestId})` : ''
    const tries = attempts > 1 ? ` after ${attempts} attempts` : ''
    super(`${init.operation}: HTTP ${init.status} ${init.code}: ${init.message}${id}${tries}`, {
      hint: init.hint ?? hintFor(init.status, init.code, init.message)
    })
    this.name = 'AzureRequestError'
    this.status = init.status
    this.code = init.code
    this.azureMessage = init.message
    this.requestId = init.requestId
    this.operation = init.operation
    this.attempts = attempts
  }
}

/** No HTTP answer at all (connection refused or reset, DNS failure, timeout). */
export class ConnectionError extends ActionError {
  readonly code: string
  readonly attempts: number
  constructor(operation: string, host: string, cause: Error & { code?: string }, attempts: number) {
    const code = cause.code ?? (/timeout/i.test(cause.message) ? 'ETIMEDOUT' : 'ECONNERROR')
    const tries = attempts > 1 ? ` after ${attempts} attempts` : ''
    super(`${operation}: no answer from ${host} (${code}: ${cause.message})${tries}`, {
      hint: 'Check the network of the runner: proxies (HTTPS_PROXY / NO_PROXY), firewalls and DNS.',
      cause
    })
    this.name = 'ConnectionError'
    this.code = code
    this.attempts = attempts
  }
}

/**
 * A 2xx answer that is not what the service sends: not JSON, or not the expected shape. Often a proxy or
 * gateway answered instead of Azure — something that can pass, so a wait may ride it out.
 */
export class UnexpectedAnswerError extends ActionError {
  readonly status: number
  constructor(message: string, status: number, options?: { hint?: string }) {
    super(message, options)
    this.name = 'UnexpectedAnswerError'
    this.status = status
  }
}

/** The request id Azure returned, from the first header that carries one. */
export function requestIdOf(headers: IncomingHttpHeaders): string | undefined {
  for (const name of ['x-ms-request-id', 'x-ms-correlation-request-id', 'apim-request-id', 'request-id', 'x-request-id']) {
    const v = headers[name]
    if (typeof v === 'string' && v) return v
  }
  return undefined
}

interface ParsedError {
  code: string
  message: string
  requestId?: string
}

/** Reads whichever Azure error shape the body has; falls back to a short, safe excerpt of the text. */
export function parseErrorBody(status: number, headers: IncomingHttpHeaders, text: string): ParsedError {
  const contentType = String(headers['content-type'] ?? '')
  const trimmed = text.trim()
  if (trimmed.startsWith('{')) {
    try {
      const fromJson = fromJsonBody(status, JSON.parse(trimmed) as unknown)
      if (fromJson) return fromJson
    } catch {
      return { code: 'InvalidResponse', message: `the error body is not valid JSON: ${excerpt(trimmed)}` }
    }
  }
  if (trimmed.startsWith('<?xml') || trimmed.startsWith('<Error>')) {
    const code = /<Code>([^<]*)<\/Code>/.exec(trimmed)?.[1]
    const message = /<Message>([^<]*)<\/Message>/.exec(trimmed)?.[1]
    if (code) return { code, message: (message ?? '').split('\n')[0].trim() || code }
  }
  if (/text\/html/i.test(contentType) || /^<(!doctype|html)/i.test(trimmed)) {
    const title = /<title>([^<]*)<\/title>/i.exec(trimmed)?.[1]?.trim()
    return {
      code: 'HtmlResponse',
      message: `received an HTML page${title ? ` ("${excerpt(title)}")` : ''} instead of an Azure answer; a proxy, firewall or gateway may be in the way`
    }
  }
  if (!trimmed) return { code: statusText(status), message: 'the answer has no body' }
  return { code: statusText(status), message: excerpt(trimmed) }
}

function fromJsonBody(status: number, body: unknown): ParsedError | undefined {
  if (typeof body === 'string') return { code: 'Error', message: body }
  if (!body || typeof body !== 'object') return undefined
  const b = body as Record<string, unknown>
  // Azure AD: {error: "invalid_client", error_description: "AADSTS7000215: …", error_codes: [7000215], trace_id}.
  // Only with its description or codes: scoring containers and gateways answer {"error": "<message>"} too.
  if (typeof b.error === 'string' && (typeof b.error_description === 'string' || Array.isArray(b.error_codes))) {
    const description = typeof b.error_description === 'string' ? b.error_description : ''
    const firstLine = description.split(/\r?\n/)[0].trim()
    const aadsts = /^(AADSTS\d+)/.exec(firstLine)?.[1]
    return {
      code: aadsts ? `${b.error} (${aadsts})` : b.error,
      message: firstLine.replace(/^AADSTS\d+:\s*/, '') || b.error,
      requestId: typeof b.trace_id === 'string' ? b.trace_id : undefined
    }
  }
  if (typeof b.error === 'string') return { code: statusText(status), message: b.error || 'the answer has no message' }
  // ARM and the Azure ML data plane: {error: {code, message, details, innerError}}
  if (b.error && typeof b.error === 'object') {
    const e = b.error as Record<string, unknown>
    let code = typeof e.code === 'string' ? e.code : 'Error'
    const inner = deepestInnerCode(e.innerError)
    if (inner && inner !== code) code = `${code}/${inner}`
    const details = Array.isArray(e.details)
      ? (e.details as Record<string, unknown>[]).map(d => (typeof d?.message === 'string' ? d.message : '')).filter(Boolean)
      : []
    const message = typeof e.message === 'string' && e.message ? e.message : details[0] ?? code
    const extra = details.filter(d => d !== message)
    return { code, message: extra.length ? `${message} (${extra.join('; ')})` : message, requestId: correlationId(b) }
  }
  // Model management: {code, statusCode, message, details}
  if (typeof b.code === 'string' && typeof b.message === 'string') return { code: b.code, message: b.message }
  if (typeof b.message === 'string') return { code: 'Error', message: b.message }
  if (typeof b.Message === 'string') return { code: 'Error', message: b.Message }
  return undefined
}

/**
 * The data plane's own request id, `correlation.request` (else `correlation.operation`) of its
 * ErrorResponse: the one to quote to Azure support when no x-ms-request-id header came back.
 */
function correlationId(body: Record<string, unknown>): string | undefined {
  const correlation = body.correlation ?? body.Correlation
  if (!correlation || typeof correlation !== 'object') return undefined
  const c = correlation as Record<string, unknown>
  for (const key of ['request', 'Request', 'operation', 'Operation']) {
    if (typeof c[key] === 'string' && c[key]) return c[key]
  }
  return undefined
}

function deepestInnerCode(inner: unknown): string | undefined {
  let code: string | undefined
  let node = inner as Record<string, unknown> | undefined
  for (let depth = 0; node && typeof node === 'object' && depth < 10; depth++) {
    if (typeof node.code === 'string') code = node.code
    node = node.innerError as Record<string, unknown> | undefined
  }
  return code
}

/** At most 300 characters of a body, on one line, without control characters. */
export function excerpt(text: string, max = 300): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max)}…` : flat
}

function statusText(status: number): string {
  const names: Record<number, string> = {
    400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 408: 'RequestTimeout',
    409: 'Conflict', 413: 'PayloadTooLarge', 429: 'TooManyRequests', 500: 'InternalServerError', 502: 'BadGateway',
    503: 'ServiceUnavailable', 504: 'GatewayTimeout'
  }
  return names[status] ?? `Status${status}`
}
