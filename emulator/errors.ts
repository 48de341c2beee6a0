import { json, type Reply, type RequestContext, type Service } from './http.js'

/** The error body of each Azure service family, before request-specific fields are filled in. */
export type ErrorPayload =
  | { kind: 'arm'; code: string; message: string; details?: Array<{ code: string; message: string }> }
  | { kind: 'model'; code: string; message: string; details?: ModelErrorDetail[] }
  | { kind: 'dataPlane'; code: string; message: string; innerCode?: string; target?: string }
  | { kind: 'aad'; error: string; aadsts: number; description: string }
  | { kind: 'storage'; code: string; message: string; detail?: string }
  | { kind: 'raw'; contentType: string; body: string }

/** An error answer; handlers throw it and the server renders it in the shape of the route's service. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly payload: ErrorPayload,
    readonly headers: Record<string, string> = {}
  ) {
    super('message' in payload ? payload.message : payload.kind === 'aad' ? payload.description : `HTTP ${status}`)
  }
}

/** ARM's `{"error":{"code","message"}}` (with `details` when given). */
export function armError(status: number, code: string, message: string, headers?: Record<string, string>, details?: Array<{ code: string; message: string }>): HttpError {
  return new HttpError(status, { kind: 'arm', code, message, details }, headers)
}

/** One entry of a ModelErrorResponse's `details`. */
export interface ModelErrorDetail {
  code: string
  message: string
  target?: string
}

/**
 * Model management's ModelErrorResponse `{code, statusCode, message, details}` (not the data plane's
 * ErrorResponse): `code` is the HTTP-level kind (BadRequest, NotFound…), `details` the specific reason.
 */
export function modelError(status: number, code: string, message: string, details: ModelErrorDetail[] = [], headers?: Record<string, string>): HttpError {
  return new HttpError(status, { kind: 'model', code, message, details }, headers)
}

/** The Azure ML data plane's ErrorResponse (history, execution, artifacts). */
export function dataPlaneError(
  status: number,
  code: string,
  message: string,
  options: { innerCode?: string; target?: string; headers?: Record<string, string> } = {}
): HttpError {
  return new HttpError(status, { kind: 'dataPlane', code, message, innerCode: options.innerCode, target: options.target }, options.headers)
}

/** Azure AD's OAuth error body; `description` is the text after `AADSTSnnnnn: `. */
export function aadError(status: number, error: string, aadsts: number, description: string): HttpError {
  return new HttpError(status, { kind: 'aad', error, aadsts, description })
}

/** Azure Storage's XML error. */
export function storageError(status: number, code: string, message: string, detail?: string): HttpError {
  return new HttpError(status, { kind: 'storage', code, message, detail }, { 'x-ms-error-code': code })
}

/** An error with the same code and message in whichever shape the service uses (auth failures, faults, 404s). */
export function serviceError(service: Service, status: number, code: string, message: string, headers?: Record<string, string>): HttpError {
  switch (service) {
    case 'dataPlane':
      return dataPlaneError(status, code, message, { headers })
    case 'modelManagement':
      return modelError(status, code, message, [], headers)
    case 'aad':
      return new HttpError(status, { kind: 'aad', error: code, aadsts: AAD_CODE_FOR_STATUS[status] ?? 90000, description: message }, headers)
    case 'blob':
      return new HttpError(status, { kind: 'storage', code, message }, { 'x-ms-error-code': code, ...headers })
    default:
      return armError(status, code, message, headers)
  }
}

// Azure AD numbers its transient failures; these are the ones it uses for throttling and outages.
const AAD_CODE_FOR_STATUS: Record<number, number> = { 429: 50196, 500: 90033, 503: 90033, 504: 90033 }

/** The Azure error code and message conventionally sent with a status (used by injected faults). */
export function codeForStatus(service: Service, status: number): { code: string; message: string } {
  if (service === 'aad') {
    return status >= 500 || status === 429
      ? { code: 'temporarily_unavailable', message: 'The service is temporarily unavailable. Please try again later.' }
      : { code: 'invalid_request', message: 'The request is not valid.' }
  }
  if (service === 'blob') {
    if (status === 500) return { code: 'InternalError', message: 'The server encountered an internal error. Please retry the request.' }
    if (status === 503 || status === 429) return { code: 'ServerBusy', message: 'The server is currently unable to receive requests. Please retry your request.' }
    return { code: 'InvalidOperation', message: 'The operation is not valid.' }
  }
  if (service === 'dataPlane') {
    if (status === 429) return { code: 'RequestThrottled', message: 'The request was throttled. Retry after the time given in Retry-After.' }
    if (status >= 500) return { code: status === 500 ? 'ServiceError' : 'TransientError', message: 'The service encountered a transient error. Please retry.' }
  }
  const named: Record<number, [string, string]> = {
    400: ['BadRequest', 'The request is not valid.'],
    404: ['NotFound', 'The requested resource was not found.'],
    408: ['RequestTimeout', 'The request timed out.'],
    409: ['Conflict', 'The request conflicts with the current state of the resource.'],
    429: ['TooManyRequests', 'The request is being throttled as the limit has been reached for operation type. Please try again after the time given in Retry-After.'],
    500: ['InternalServerError', 'Encountered internal server error. Please try again.'],
    502: ['BadGateway', 'The gateway did not receive a response from the upstream service.'],
    503: ['ServiceUnavailable', 'The service is unavailable. Please try again later.'],
    504: ['GatewayTimeout', 'The gateway did not receive a response within the specified time period.']
  }
  const [code, message] = named[status] ?? [`Http${status}`, `The request failed with status ${status}.`]
  return { code, message }
}

/** Renders an error with the request's ids and time, as the real service would stamp them. */
export function renderError(err: HttpError, ctx: RequestContext): Reply {
  const p = err.payload
  const now = new Date()
  switch (p.kind) {
    case 'arm':
      return json(err.status, { error: { code: p.code, message: p.message, ...(p.details ? { details: p.details } : {}) } }, err.headers)
    case 'model':
      return json(err.status, { code: p.code, statusCode: err.status, message: p.message, details: p.details ?? [] }, err.headers)
    case 'dataPlane': {
      const error: Record<string, unknown> = { code: p.code, message: p.message }
      if (p.target) error.target = p.target
      if (p.innerCode) error.innerError = { code: p.innerCode }
      const id = ctx.requestId.replace(/-/g, '')
      return json(
        err.status,
        { error, correlation: { operation: id, request: id.slice(0, 16) }, environment: ctx.location, location: ctx.location, time: now.toISOString() },
        err.headers
      )
    }
    case 'aad': {
      const timestamp = now.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')
      const traceId = ctx.requestId
      const correlationId = ctx.clientRequestId ?? ctx.correlationId
      return json(
        err.status,
        {
          error: p.error,
          error_description: `AADSTS${p.aadsts}: ${p.description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
          error_codes: [p.aadsts],
          timestamp,
          trace_id: traceId,
          correlation_id: correlationId,
          error_uri: `${ctx.endpoints.authority}/error?code=${p.aadsts}`
        },
        { 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache', ...err.headers }
      )
    }
    case 'storage': {
      const message = `${p.message}\nRequestId:${ctx.requestId}\nTime:${now.toISOString().replace(/Z$/, '0000Z')}`
      const detail = p.detail === undefined ? '' : `<AuthenticationErrorDetail>${xml(p.detail)}</AuthenticationErrorDetail>`
      return {
        status: err.status,
        headers: { 'Content-Type': 'application/xml', ...err.headers },
        body: `<?xml version="1.0" encoding="utf-8"?><Error><Code>${xml(p.code)}</Code><Message>${xml(message)}</Message>${detail}</Error>`
      }
    }
    case 'raw':
      return { status: err.status, headers: { 'Content-Type': p.contentType, ...err.headers }, body: p.body }
  }
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}
