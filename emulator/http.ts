import type { IncomingMessage } from 'node:http'
import type { Endpoints } from './endpoints.js'

/** Which Azure service a route belongs to: decides the error body shape and the response headers. */
export type Service = 'aad' | 'arm' | 'discovery' | 'dataPlane' | 'modelManagement' | 'blob' | 'studio' | 'control'

/** A byte range of a file on disk, sent without loading it (`end` exclusive). */
export interface FileBody {
  file: string
  start: number
  end: number
}

/** What a handler answers; the server adds the common headers and applies faults. */
export interface Reply {
  status: number
  headers?: Record<string, string>
  body?: string | Buffer | FileBody
}

/** One request as the handlers see it. */
export interface RequestContext {
  readonly req: IncomingMessage
  readonly method: string
  /** The raw (still percent-encoded) path, without the query. */
  readonly path: string
  readonly query: URLSearchParams
  readonly requestId: string
  readonly clientRequestId?: string
  readonly correlationId: string
  /** The origin the client used for this request (http://host:port, or https://{Azure host name}): links to the same service. */
  readonly baseUrl: string
  /** Where the other services are, for links that cross services (discovery, blob SAS URLs, scoring URIs). */
  readonly endpoints: Endpoints
  /** The region reported in error bodies. */
  readonly location: string
  service: Service
  params: Record<string, string>
  /** Who the request authenticated as (client id or 'run-token'), for the request log. */
  authenticatedAs?: string
  /** How a token request proved the client's identity, for the request log. */
  clientCredential?: 'client_secret' | 'client_assertion'
}

/** A handler of one route. */
export type Handler = (ctx: RequestContext) => Promise<Reply> | Reply

/** One route: method, path template (`{name}` matches a segment, `{name*}` the rest) and handler. */
export interface Route {
  method: string
  pattern: string
  service: Service
  handler: Handler
}

/** Thrown by {@link readBody} when the body is over the limit. */
export class PayloadTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`)
  }
}

/** A JSON reply with Azure's content type. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(body) }
}

/** Reads the whole request body (chunked or with Content-Length), refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) throw new PayloadTooLargeError(limit)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) throw new PayloadTooLargeError(limit)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** The media type of a request, lower-cased, without parameters. */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
}

interface CompiledRoute {
  route: Route
  regex: RegExp
  names: string[]
}

/** The outcome of matching a request against the routes. */
export type RouteMatch =
  | { kind: 'route'; route: Route; params: Record<string, string> }
  | { kind: 'method'; service: Service; allowed: string[] }
  | { kind: 'none' }

/**
 * Matches paths against templates. Literal segments match case-insensitively because ARM and the Azure ML
 * data plane do (`resourcegroups` and `resourceGroups` are the same path there).
 */
export class Router {
  private readonly routes: CompiledRoute[] = []

  add(...routes: Route[]): void {
    for (const route of routes) {
      const names: string[] = []
      const source = route.pattern
        .split('/')
        .map(segment => {
          const rest = /^\{(\w+)\*\}$/.exec(segment)
          if (rest) {
            names.push(rest[1])
            return '(.+)'
          }
          const param = /^\{(\w+)\}$/.exec(segment)
          if (param) {
            names.push(param[1])
            return '([^/]+)'
          }
          return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
        })
        .join('/')
      this.routes.push({ route, names, regex: new RegExp(`^${source}$`, 'i') })
    }
  }

  match(method: string, path: string): RouteMatch {
    const allowed: string[] = []
    let service: Service | undefined
    for (const { route, regex, names } of this.routes) {
      const m = regex.exec(path)
      if (!m) continue
      if (route.method !== method && !(route.method === 'GET' && method === 'HEAD' && route.service === 'blob')) {
        allowed.push(route.method)
        service ??= route.service
        continue
      }
      const params: Record<string, string> = {}
      names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1])))
      return { kind: 'route', route, params }
    }
    return service ? { kind: 'method', service, allowed } : { kind: 'none' }
  }
}

/** A fresh id in the shape Azure uses for request ids. */
export function newId(): string {
  return crypto.randomUUID()
}
