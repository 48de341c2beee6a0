import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Addressing } from './endpoints.js'
import { codeForStatus, HttpError, renderError, serviceError } from './errors.js'
import type { Fault, FaultController, FaultKind } from './faults.js'
import { newId, PayloadTooLargeError, type Reply, type RequestContext, type Router, type Service } from './http.js'

/** One request as the request log keeps it: never a header value that authenticates, never a body. */
export interface RequestRecord {
  time: string
  method: string
  path: string
  /** The query string without '?', with any SAS signature replaced by REDACTED. */
  query: string
  /** The status answered; 0 when no answer was sent (reset, hang). */
  status: number
  clientRequestId?: string
  /** Client id of the principal, or 'run-token'. */
  authenticatedAs?: string
  /** How a token request proved the client's identity (Azure AD requests only). */
  clientCredential?: 'client_secret' | 'client_assertion'
  /** The host name asked for, when the client came through the TLS port with Azure's host names. */
  host?: string
  /** The injected fault that applied, if any. */
  fault?: FaultKind
}

/** What the HTTP server needs. */
export interface ServerDeps {
  router: Router
  faults: FaultController
  requests: RequestRecord[]
  location: string
  addressing: Addressing
  /** Called with a one-line summary of every answered Azure request (the CLI prints them). */
  log?: (line: string) => void
}

/**
 * One server for every service: it records each request, lets an armed fault take it over, routes it,
 * renders thrown errors in the service's own shape and adds Azure's common headers. Plain http on loopback,
 * or — with `tls` — https for clients that use Azure's host names (see Addressing).
 */
export function createEmulatorServer(deps: ServerDeps, tls?: { key: string | Buffer; cert: string | Buffer }): Server {
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(deps, req, res).catch(err => {
      // Only reachable when writing the answer itself failed; the socket is all that is left to close.
      deps.log?.(`internal error: ${(err as Error).stack ?? String(err)}`)
      res.destroy()
    })
  }
  const server = tls ? createTlsServer(tls, listener) : createServer(listener)
  server.keepAliveTimeout = 5000
  return server
}

async function handle(deps: ServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = Date.now()
  const url = new URL(req.url ?? '/', 'http://emulator')
  const addressed = deps.addressing.resolve(req, url.pathname)
  const path = addressed.path
  const method = (req.method ?? 'GET').toUpperCase()
  const header = (name: string): string | undefined => {
    const v = req.headers[name]
    return Array.isArray(v) ? v[0] : v
  }
  const ctx: RequestContext = {
    req,
    method,
    path,
    query: url.searchParams,
    requestId: newId(),
    clientRequestId: header('x-ms-client-request-id') ?? header('client-request-id'),
    correlationId: header('x-ms-correlation-request-id') ?? newId(),
    baseUrl: addressed.baseUrl,
    endpoints: addressed.endpoints,
    location: deps.location,
    service: serviceOf(path),
    params: {}
  }
  const control = path === '/_emulator' || path.startsWith('/_emulator/')
  const record: RequestRecord | undefined = control
    ? undefined
    : { time: new Date(started).toISOString(), method, path, query: redactQuery(url.search.slice(1)), status: 0, clientRequestId: ctx.clientRequestId }
  if (record && addressed.host) record.host = addressed.host
  if (record) deps.requests.push(record)

  const fault = control ? undefined : deps.faults.take(method, path)
  if (fault && record) record.fault = fault.kind
  if (fault) {
    const done = await applyFaultBefore(ctx, res, fault, record)
    if (done) return
  }

  const reply = addressed.refused ? renderError(serviceError(ctx.service, 404, 'NotFound', addressed.refused), ctx) : await dispatch(deps, ctx)
  if (record) {
    record.authenticatedAs = ctx.authenticatedAs
    if (ctx.clientCredential) record.clientCredential = ctx.clientCredential
    record.status = fault && (fault.kind === 'reset' || fault.kind === 'hang') ? 0 : reply.status
  }
  if (fault?.kind === 'reset') {
    res.socket?.destroy()
    return
  }
  if (fault?.kind === 'hang') return
  const headers = finalHeaders(ctx, reply)
  // An unread request body would stall a keep-alive connection; a body over the limit closes it instead.
  if (!req.readableEnded) {
    if (reply.status === 413) headers.Connection = 'close'
    req.resume()
  }
  if (fault?.kind === 'truncated') return sendTruncated(res, reply, headers)
  await send(res, method, reply, headers)
  if (record) deps.log?.(`${method} ${path} ${reply.status} ${Date.now() - started}ms`)
}

/** Applies a fault before routing; true when the request is finished with. */
async function applyFaultBefore(ctx: RequestContext, res: ServerResponse, fault: Fault, record: RequestRecord | undefined): Promise<boolean> {
  switch (fault.kind) {
    case 'delay':
      await sleep(fault.delayMs ?? 0)
      return false
    case 'reset':
      if (fault.afterHandling) return false
      res.socket?.destroy()
      return true
    case 'hang':
      if (fault.afterHandling) return false
      ctx.req.resume()
      return true
    case 'truncated':
      return false
    case 'status': {
      const status = fault.status ?? 503
      const headers: Record<string, string> = {}
      if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds)
      if (fault.retryAfterMs !== undefined) {
        headers['retry-after-ms'] = String(fault.retryAfterMs)
        headers['x-ms-retry-after-ms'] = String(fault.retryAfterMs)
      }
      let reply: Reply
      if (fault.body !== undefined) {
        reply = { status, headers: { 'Content-Type': looksLikeJson(fault.body) ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8', ...headers }, body: fault.body }
      } else {
        const { code, message } = codeForStatus(ctx.service, status)
        reply = renderError(serviceError(ctx.service, status, code, message, headers), ctx)
      }
      await finishFault(ctx, res, reply, record)
      return true
    }
    case 'html': {
      const status = fault.status ?? 502
      const text = `${status} ${statusText(status)}`
      const body =
        fault.body ??
        `<html>\r\n<head><title>${text}</title></head>\r\n<body>\r\n<center><h1>${text}</h1></center>\r\n<hr><center>Microsoft-Azure-Application-Gateway/v2</center>\r\n</body>\r\n</html>\r\n`
      await finishFault(ctx, res, { status, headers: { 'Content-Type': 'text/html' }, body }, record)
      return true
    }
  }
}

async function finishFault(ctx: RequestContext, res: ServerResponse, reply: Reply, record: RequestRecord | undefined): Promise<void> {
  if (record) record.status = reply.status
  ctx.req.resume()
  await send(res, ctx.method, reply, finalHeaders(ctx, reply))
}

async function dispatch(deps: ServerDeps, ctx: RequestContext): Promise<Reply> {
  try {
    const match = deps.router.match(ctx.method, ctx.path)
    if (match.kind === 'none') {
      const service = ctx.service
      if (service === 'blob') throw serviceError('blob', 400, 'InvalidUri', 'The requested URI does not represent any resource on the server.')
      if (service === 'dataPlane') {
        throw new HttpError(404, { kind: 'dataPlane', code: 'UserError', message: `The local Azure ML service has no route ${ctx.method} ${ctx.path}.`, innerCode: 'NotFoundError' })
      }
      throw serviceError(service, 404, service === 'aad' ? 'invalid_request' : 'NotFound', `The local Azure ML service has no route ${ctx.method} ${ctx.path}.`)
    }
    if (match.kind === 'method') {
      ctx.service = match.service
      throw serviceError(match.service, 405, match.service === 'aad' ? 'invalid_request' : 'MethodNotAllowed', `The requested resource does not support http method '${ctx.method}'.`, {
        Allow: [...new Set(match.allowed)].join(', ')
      })
    }
    ctx.service = match.route.service
    ctx.params = match.params
    return await match.route.handler(ctx)
  } catch (err) {
    if (err instanceof HttpError) return renderError(err, ctx)
    if (err instanceof PayloadTooLargeError) {
      return renderError(serviceError(ctx.service, 413, ctx.service === 'dataPlane' ? 'UserError' : 'RequestEntityTooLarge', `The request body is larger than the limit of ${err.limit} bytes.`), ctx)
    }
    if (err instanceof URIError) return renderError(serviceError(ctx.service, 400, 'BadRequest', 'The request path is not validly percent-encoded.'), ctx)
    deps.log?.(`internal error on ${ctx.method} ${ctx.path}: ${(err as Error).stack ?? String(err)}`)
    return renderError(serviceError(ctx.service, 500, ctx.service === 'dataPlane' ? 'ServiceError' : 'InternalServerError', `Internal error in the local Azure ML service: ${(err as Error).message}`), ctx)
  }
}

function finalHeaders(ctx: RequestContext, reply: Reply): Record<string, string> {
  const headers: Record<string, string> = { 'x-ms-request-id': ctx.requestId, ...reply.headers }
  if (ctx.clientRequestId) {
    if (ctx.req.headers['x-ms-client-request-id'] !== undefined) headers['x-ms-client-request-id'] = ctx.clientRequestId
    if (ctx.req.headers['client-request-id'] !== undefined) headers['client-request-id'] = ctx.clientRequestId
  }
  if (ctx.service === 'arm') {
    headers['x-ms-correlation-request-id'] = ctx.correlationId
    headers['x-ms-routing-request-id'] = `${ctx.location.toUpperCase()}:${new Date().toISOString().replace(/[-:]|\.\d+/g, '')}:${ctx.requestId}`
  }
  if (!Object.keys(headers).some(h => h.toLowerCase() === 'content-type') && ctx.service !== 'blob') {
    headers['Content-Type'] = 'application/json; charset=utf-8'
  }
  return headers
}

async function send(res: ServerResponse, method: string, reply: Reply, headers: Record<string, string>): Promise<void> {
  const body = reply.body
  if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
    const bytes = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')
    headers['Content-Length'] ??= String(bytes.length)
    res.writeHead(reply.status, headers)
    res.end(method === 'HEAD' ? undefined : bytes)
    return
  }
  headers['Content-Length'] ??= String(body.end - body.start)
  res.writeHead(reply.status, headers)
  if (method === 'HEAD' || body.end <= body.start) {
    res.end()
    return
  }
  await new Promise<void>(resolve => {
    const stream = createReadStream(body.file, { start: body.start, end: body.end - 1 })
    stream.on('error', () => {
      res.destroy()
      resolve()
    })
    stream.on('end', resolve)
    stream.pipe(res)
  })
}

async function sendTruncated(res: ServerResponse, reply: Reply, headers: Record<string, string>): Promise<void> {
  const body = reply.body
  const bytes =
    body === undefined ? Buffer.alloc(0) : typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.isBuffer(body) ? body : (await readFile(body.file)).subarray(body.start, body.end)
  // The full length is promised and half is sent: the client sees the connection die mid-body.
  headers['Content-Length'] = String(bytes.length)
  res.writeHead(reply.status, headers)
  res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.socket?.destroy())
}

/** Which service a path belongs to, for requests that match no route. */
function serviceOf(path: string): Service {
  if (/^\/modelmanagement\//i.test(path)) return 'modelManagement'
  if (/^\/(history|execution|artifact)\//i.test(path)) return 'dataPlane'
  if (/^\/blob(\/|$)/i.test(path)) return 'blob'
  if (/^\/[^/]+\/oauth2\//i.test(path)) return 'aad'
  if (path === '/discovery') return 'discovery'
  if (path.startsWith('/studio/')) return 'studio'
  if (path === '/_emulator' || path.startsWith('/_emulator/')) return 'control'
  return 'arm'
}

function redactQuery(query: string): string {
  return query.replace(/(^|&)(sig|client_secret|code|subscription-key|key)=[^&]*/gi, '$1$2=REDACTED')
}

function looksLikeJson(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

function statusText(status: number): string {
  const texts: Record<number, string> = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Temporarily Unavailable', 504: 'Gateway Time-out' }
  return texts[status] ?? 'Error'
}
