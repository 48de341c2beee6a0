import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'

/** One request a client sent through the proxy. */
export interface ProxiedRequest {
  /** CONNECT (a tunnel, what HTTPS goes through) or the method of a forwarded plain-HTTP request. */
  method: string
  /** host:port asked for. */
  target: string
  /** What the proxy answered: 200 for a tunnel made, 407 without valid credentials, 502 for an unknown host. */
  status: number
}

/** A running forward proxy. */
export interface ForwardProxy {
  /** http://127.0.0.1:port (what HTTPS_PROXY / HTTP_PROXY name). */
  url: string
  /** Everything that went through it, in order. Live array. */
  readonly requests: ProxiedRequest[]
  close(): Promise<void>
}

export interface ForwardProxyOptions {
  /** Where a host:port asked for really is; undefined when the host is unknown (answered 502, like a failed DNS lookup). */
  route(host: string, port: number): { host: string; port: number } | undefined
  /** Basic credentials the proxy demands (Proxy-Authorization), if any. */
  credentials?: { username: string; password: string }
  port?: number
}

/**
 * A forward proxy on loopback, as corporate networks have: HTTPS through CONNECT tunnels, plain HTTP
 * forwarded by absolute URL, optional Basic proxy authentication, and a log of what passed through.
 * `route` maps the host names clients ask for onto this machine (the local Azure ML service's TLS port).
 */
export async function startForwardProxy(options: ForwardProxyOptions): Promise<ForwardProxy> {
  const requests: ProxiedRequest[] = []
  const sockets = new Set<Socket>()
  const expected = options.credentials ? `Basic ${Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString('base64')}` : undefined
  const authorized = (req: IncomingMessage): boolean => expected === undefined || req.headers['proxy-authorization'] === expected

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let url: URL
    try {
      url = new URL(req.url ?? '')
    } catch {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('A proxy request needs an absolute URL.\n')
      return
    }
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80))
    const record: ProxiedRequest = { method: req.method ?? 'GET', target: `${url.hostname}:${port}`, status: 0 }
    requests.push(record)
    if (!authorized(req)) {
      record.status = 407
      res.writeHead(407, { 'Proxy-Authenticate': 'Basic realm="proxy"', 'Content-Type': 'text/plain' }).end('Proxy authentication required.\n')
      return
    }
    const target = options.route(url.hostname.replace(/^\[|\]$/g, ''), port)
    if (!target || url.protocol !== 'http:') {
      record.status = 502
      res.writeHead(502, { 'Content-Type': 'text/plain' }).end(`The proxy cannot reach ${record.target}.\n`)
      return
    }
    const headers = { ...req.headers }
    delete headers['proxy-authorization']
    delete headers['proxy-connection']
    const upstream = httpRequest({ host: target.host, port: target.port, method: req.method, path: `${url.pathname}${url.search}`, headers }, answer => {
      record.status = answer.statusCode ?? 0
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    upstream.on('error', () => {
      record.status = 502
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' })
      res.end()
    })
    req.pipe(upstream)
  })

  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => undefined)
    const [host, portText] = splitHostPort(req.url ?? '')
    const record: ProxiedRequest = { method: 'CONNECT', target: `${host}:${portText}`, status: 0 }
    requests.push(record)
    if (!authorized(req)) {
      record.status = 407
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="proxy"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
      return
    }
    const target = options.route(host, Number(portText))
    if (!target) {
      record.status = 502
      client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
      return
    }
    const upstream = connect(target.port, target.host, () => {
      record.status = 200
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head.length) upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    sockets.add(upstream)
    upstream.on('close', () => {
      sockets.delete(upstream)
      client.destroy()
    })
    upstream.on('error', () => {
      if (record.status === 0) {
        record.status = 502
        client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
      }
    })
    client.on('close', () => upstream.destroy())
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>(resolve => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

function splitHostPort(authority: string): [string, string] {
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(authority)
  if (v6) return [v6[1], v6[2]]
  const i = authority.lastIndexOf(':')
  return i > 0 ? [authority.slice(0, i), authority.slice(i + 1)] : [authority, '443']
}
