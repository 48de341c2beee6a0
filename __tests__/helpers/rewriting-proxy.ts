/**
 * A reverse proxy in front of the local Azure ML service that changes requests or answers on the way, to
 * stand for a service that behaves otherwise than the emulator within what Azure documents (a `name` filter
 * that is not exact, a PUT answered without a long-running-operation header, …). The action is pointed at it
 * instead of the emulator; the emulator still does the work.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Rewrites {
  /** Changes the request URL (path and query) before it is forwarded. */
  request?: (method: string, url: URL) => void
  /** Changes the answer's headers before they are sent back (a copy; lower-case names). */
  responseHeaders?: (method: string, url: URL, status: number, headers: Record<string, string>) => void
}

export interface RewritingProxy {
  readonly url: string
  close(): Promise<void>
}

/** Starts a proxy on loopback forwarding every request to `target` (an http:// base URL). */
export async function rewritingProxy(target: string, rewrites: Rewrites): Promise<RewritingProxy> {
  const server: Server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', target)
      const method = req.method ?? 'GET'
      rewrites.request?.(method, url)
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const answer = await fetch(url, {
        method,
        headers: forwardable(req.headers),
        body: chunks.length ? Buffer.concat(chunks) : undefined,
        redirect: 'manual'
      })
      const headers: Record<string, string> = {}
      answer.headers.forEach((value, name) => {
        if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive'].includes(name)) headers[name] = value
      })
      rewrites.responseHeaders?.(method, url, answer.status, headers)
      const body = Buffer.from(await answer.arrayBuffer())
      res.writeHead(answer.status, { ...headers, 'content-length': String(body.length) })
      res.end(body)
    } catch (error) {
      res.writeHead(502, { 'content-type': 'text/plain' })
      res.end(`rewriting proxy: ${(error as Error).message}`)
    }
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

function forwardable(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || ['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive'].includes(name)) continue
    out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return out
}
