/**
 * The one request pipeline against the local Azure ML service's fault injection: which failures are retried
 * (and how long it asks to wait — the sleep is injected and records the delays instead of waiting), which are
 * not, what the error says after the last attempt, and the token refresh on a 401.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, beforeEach, describe, it } from 'node:test'
import { startEmulator, type Emulator, type FaultSpec } from '../../emulator/index.js'
import { workspacePath } from '../../src/azureml/session.js'
import { ActionError } from '../../src/errors.js'
import { AzureRequestError, ConnectionError } from '../../src/http/errors.js'
import type { HttpResponse, RequestSpec } from '../../src/http/pipeline.js'
import type { RetryOptions } from '../../src/http/retry.js'
import { MemoryLogger } from '../../src/logger.js'
import { azureSettings, demoPipeline } from '../helpers/in-process.js'

let emulator: Emulator
before(async () => {
  emulator = await startEmulator({ port: 0, runPhaseDelayMs: 10 })
})
beforeEach(() => emulator.faults.clear())
after(() => emulator.close())

const disposers: Array<() => void> = []
after(() => disposers.forEach(d => d()))

const WORKSPACE = '/workspaces/local-ws$'
const TOKEN = '/oauth2/v2.0/token$'

interface Harness {
  logger: MemoryLogger
  /** The delays the pipeline asked for between attempts. */
  delays: number[]
  /** Requests the emulator received since the harness was made. */
  requests(): Emulator['requests']
  getWorkspace(): Promise<HttpResponse>
  /** A POST the pipeline considers non-idempotent (the default for POST): the Azure AD token request itself. */
  postToken(): Promise<HttpResponse>
  send(spec: RequestSpec): Promise<HttpResponse>
}

function harness(
  options: {
    retry?: Partial<RetryOptions>
    timeoutMs?: number
    random?: () => number
    onSleep?: (ms: number, n: number) => Promise<void> | void
    /** The workflow's cancellation signal. */
    signal?: AbortSignal
    /** Wait for real, with the pipeline's own sleep (delays are not recorded). */
    realSleep?: boolean
  } = {}
): Harness {
  const logger = new MemoryLogger(true)
  const delays: number[] = []
  const session = demoPipeline(emulator, logger, {
    retry: options.retry,
    timeoutMs: options.timeoutMs,
    random: options.random ?? (() => 0.5),
    signal: options.signal,
    sleep: options.realSleep
      ? undefined
      : async ms => {
          delays.push(ms)
          await options.onSleep?.(ms, delays.length)
        }
  })
  disposers.push(() => session.pipeline.dispose())
  const start = emulator.requests.length
  const id = emulator.identity
  return {
    logger,
    delays,
    requests: () => emulator.requests.slice(start),
    getWorkspace: () =>
      session.pipeline.send({
        method: 'GET',
        url: `${emulator.url}${workspacePath(azureSettings(emulator).workspace)}?api-version=2019-11-01`,
        operation: "reading workspace 'local-ws'",
        auth: session.auth
      }),
    postToken: () =>
      session.pipeline.send({
        method: 'POST',
        url: `${emulator.url}/${id.tenantId}/oauth2/v2.0/token`,
        operation: 'getting a token',
        auth: { kind: 'none' },
        text: {
          body: new URLSearchParams({ grant_type: 'client_credentials', client_id: id.clientId, client_secret: id.clientSecret, scope: 'https://management.azure.com/.default' }).toString(),
          contentType: 'application/x-www-form-urlencoded'
        }
      }),
    send: spec => session.pipeline.send(spec)
  }
}

const matching = (requests: Emulator['requests'], pathRegex: string, method = 'GET') => requests.filter(r => r.method === method && new RegExp(pathRegex).test(r.path))

async function rejection<T extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => T): Promise<T> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof type, `expected a ${type.name}, got ${String(error)}`)
    return error
  }
  assert.fail('expected the request to fail')
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

describe('request pipeline: transient statuses', () => {
  for (const status of [408, 429, 500, 502, 503, 504]) {
    it(`retries HTTP ${status} with jittered backoff and carries on`, async () => {
      const h = harness()
      emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'status', status, times: 2 })
      const response = await h.getWorkspace()
      assert.equal(response.status, 200)
      const gets = matching(h.requests(), WORKSPACE)
      assert.deepEqual(gets.map(r => r.status), [status, status, 200])
      assert.equal(new Set(gets.map(r => r.clientRequestId)).size, 1, 'every attempt carries the same x-ms-client-request-id')
      // random() = 0.5 with the defaults (800 ms base): half fixed + a quarter → 600, then 1200.
      assert.deepEqual(h.delays, [600, 1200])
      assert.ok(h.logger.lines.includes(`reading workspace 'local-ws': HTTP ${status} from ${new URL(emulator.url).host}; retrying in 600 ms (attempt 2 of 6)`), h.logger.text())
    })
  }

  it('waits what Retry-After asks (seconds) instead of backing off', async () => {
    const h = harness()
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'status', status: 429, retryAfterSeconds: 7, times: 1 })
    assert.equal((await h.getWorkspace()).status, 200)
    assert.deepEqual(h.delays, [7000])
    assert.match(h.logger.text(), /HTTP 429 from .*; retrying in 7\.0 s \(attempt 2 of 6\)/)
  })

  it('prefers retry-after-ms / x-ms-retry-after-ms to Retry-After', async () => {
    const h = harness()
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'status', status: 503, retryAfterMs: 250, retryAfterSeconds: 9, times: 1 })
    assert.equal((await h.getWorkspace()).status, 200)
    assert.deepEqual(h.delays, [250])
  })

  it('cuts an absurd Retry-After to the cap', async () => {
    const h = harness()
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'status', status: 503, retryAfterSeconds: 86_400, times: 1 })
    assert.equal((await h.getWorkspace()).status, 200)
    assert.deepEqual(h.delays, [120_000])
  })

  it('backs off exponentially with jitter up to the cap', async () => {
    const randoms = [0, 1, 0.5, 1, 0]
    let i = 0
    const h = harness({ retry: { baseDelayMs: 1000, maxDelayMs: 4000 }, random: () => randoms[i++] })
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'status', status: 503, times: 5 })
    assert.equal((await h.getWorkspace()).status, 200)
    // 1000, 2000, 4000, then capped at 4000: each between half and all of it, as random() says.
    assert.deepEqual(h.delays, [500, 2000, 3000, 4000, 2000])
  })

  it('gives up after the last attempt with an error naming status, request id and attempts', async () => {
    const h = harness()
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'status', status: 503, times: 6 })
    const error = await rejection(h.getWorkspace(), AzureRequestError)
    assert.match(error.message, /^reading workspace 'local-ws': HTTP 503 ServiceUnavailable: .* \(x-ms-request-id: [0-9a-f-]{36}\) after 6 attempts$/)
    assert.equal(error.attempts, 6)
    assert.equal(matching(h.requests(), WORKSPACE).length, 6, 'exactly 1 + 5 retries reached the service')
    assert.equal(h.delays.length, 5)
  })

  for (const status of [400, 403, 404, 409]) {
    it(`does not retry HTTP ${status}`, async () => {
      const h = harness()
      emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'status', status, times: 1 })
      const error = await rejection(h.getWorkspace(), AzureRequestError)
      assert.equal(error.status, status)
      assert.doesNotMatch(error.message, /attempts/)
      assert.equal(matching(h.requests(), WORKSPACE).length, 1)
      assert.deepEqual(h.delays, [])
    })
  }
})

describe('request pipeline: a cancelled workflow', () => {
  it('ends a long Retry-After wait at once: one more attempt, made then', async () => {
    const cancellation = new AbortController()
    const h = harness({ signal: cancellation.signal, realSleep: true })
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'status', status: 429, retryAfterSeconds: 100, times: 1 })
    const started = Date.now()
    setTimeout(() => cancellation.abort(), 200)
    assert.equal((await h.getWorkspace()).status, 200)
    assert.ok(Date.now() - started < 3000, `answered after ${Date.now() - started} ms, not after the 100 s asked for`)
    assert.deepEqual(matching(h.requests(), WORKSPACE).map(r => r.status), [429, 200])
    assert.match(h.logger.text(), /HTTP 429 from .*; retrying in 100 s \(attempt 2 of 6\)\nreading workspace 'local-ws': the workflow was cancelled; trying once more now, without waiting/)
  })

  it('after the cancellation a failing request gets one more attempt, at once, then fails with its error', async () => {
    const cancellation = new AbortController()
    const h = harness({ signal: cancellation.signal, realSleep: true })
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'status', status: 429, retryAfterSeconds: 100, times: 3 })
    const started = Date.now()
    setTimeout(() => cancellation.abort(), 200)
    const error = await rejection(h.getWorkspace(), AzureRequestError)
    assert.ok(Date.now() - started < 3000, `gave up after ${Date.now() - started} ms`)
    assert.equal(error.status, 429)
    assert.equal(error.attempts, 2)
    assert.deepEqual(matching(h.requests(), WORKSPACE).map(r => r.status), [429, 429])
  })

  it('a request sent after the cancellation (cancelling the run) still gets past one reset connection', async () => {
    const cancellation = new AbortController()
    cancellation.abort()
    const h = harness({ signal: cancellation.signal, realSleep: true })
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'reset', times: 1 })
    assert.equal((await h.getWorkspace()).status, 200)
    assert.deepEqual(matching(h.requests(), WORKSPACE).map(r => r.status), [0, 200])
  })
})

describe('request pipeline: connection errors', () => {
  it('retries a reset connection', async () => {
    const h = harness()
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'reset', times: 2 })
    assert.equal((await h.getWorkspace()).status, 200)
    assert.deepEqual(matching(h.requests(), WORKSPACE).map(r => r.status), [0, 0, 200])
    assert.deepEqual(h.delays, [600, 1200])
    assert.match(h.logger.text(), /ECONNRESET from .*; retrying in 600 ms \(attempt 2 of 6\)/)
  })

  it('retries a refused connection until the service is up', async () => {
    const port = await closedPort()
    let server: Server | undefined
    const h = harness({
      onSleep: async (_ms, n) => {
        if (n !== 2) return
        server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'))
        await new Promise<void>(resolve => server!.listen(port, '127.0.0.1', resolve))
      }
    })
    disposers.push(() => server?.close())
    const response = await h.send({ method: 'GET', url: `http://127.0.0.1:${port}/probe`, operation: 'probing', auth: { kind: 'none' } })
    assert.deepEqual(response.json(), { ok: true })
    assert.equal(h.delays.length, 2)
    assert.match(h.logger.text(), /probing: ECONNREFUSED from 127\.0\.0\.1:\d+; retrying/)
  })

  it('names the attempts when the connection stays refused', async () => {
    const port = await closedPort()
    const h = harness()
    const error = await rejection(h.send({ method: 'GET', url: `http://127.0.0.1:${port}/probe`, operation: 'probing', auth: { kind: 'none' } }), ConnectionError)
    assert.match(error.message, new RegExp(`^probing: no answer from 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED: .*\\) after 6 attempts$`))
    assert.match(error.hint ?? '', /HTTPS_PROXY/)
    assert.equal(h.delays.length, 5)
  })

  it('times out a request that gets no answer, and retries it', async () => {
    const h = harness({ timeoutMs: 300 })
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'hang', times: 1 })
    assert.equal((await h.getWorkspace()).status, 200)
    assert.deepEqual(matching(h.requests(), WORKSPACE).map(r => r.fault ?? r.status), ['hang', 200])
    assert.equal(h.delays.length, 1)
  })

  it('names the timeout and the attempts when no answer ever comes', async () => {
    const h = harness({ timeoutMs: 150 })
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'hang', times: 6 })
    const error = await rejection(h.getWorkspace(), ConnectionError)
    assert.match(error.message, /^reading workspace 'local-ws': no answer from 127\.0\.0\.1:\d+ \(ETIMEDOUT: .*\) after 6 attempts$/)
    assert.equal(matching(h.requests(), WORKSPACE).length, 6)
  })
})

describe('request pipeline: non-idempotent POST', () => {
  for (const status of [408, 429, 503]) {
    it(`is resent after HTTP ${status} (the service did not process it)`, async () => {
      const h = harness()
      emulator.faults.add({ method: 'POST', path: TOKEN, kind: 'status', status, times: 1 })
      assert.equal((await h.postToken()).status, 200)
      assert.deepEqual(matching(h.requests(), TOKEN, 'POST').map(r => r.status), [status, 200])
    })
  }

  for (const status of [500, 502, 504]) {
    it(`is not resent after HTTP ${status} (the service may have acted)`, async () => {
      const h = harness()
      emulator.faults.add({ method: 'POST', path: TOKEN, kind: 'status', status, times: 1 })
      const error = await rejection(h.postToken(), AzureRequestError)
      assert.equal(error.status, status)
      assert.equal(matching(h.requests(), TOKEN, 'POST').length, 1)
      assert.deepEqual(h.delays, [])
    })
  }

  it('is not resent when the answer is lost (reset after the service handled it)', async () => {
    const h = harness()
    emulator.faults.add({ method: 'POST', path: TOKEN, kind: 'reset', afterHandling: true, times: 1 })
    const error = await rejection(h.postToken(), ConnectionError)
    assert.doesNotMatch(error.message, /attempts/)
    assert.equal(matching(h.requests(), TOKEN, 'POST').length, 1)
  })

  it('is resent when the connection was refused (it never reached the service)', async () => {
    const port = await closedPort()
    const h = harness()
    const error = await rejection(h.send({ method: 'POST', url: `http://127.0.0.1:${port}/submit`, operation: 'submitting', auth: { kind: 'none' }, json: {} }), ConnectionError)
    assert.match(error.message, /ECONNREFUSED.*after 6 attempts$/)
  })
})

describe('request pipeline: Azure AD token', () => {
  it('on a 401, gets a fresh token once and tries again', async () => {
    const h = harness()
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'status', status: 401, times: 1 })
    assert.equal((await h.getWorkspace()).status, 200)
    const log = h.requests().map(r => `${r.method} ${TOKEN_RE.test(r.path) ? 'token' : 'workspace'} ${r.status}`)
    assert.deepEqual(log, ['POST token 200', 'GET workspace 401', 'POST token 200', 'GET workspace 200'])
    assert.deepEqual(h.delays, [], 'no backoff for a token refresh')
  })

  it('does not loop on a 401 that a fresh token does not cure', async () => {
    const h = harness()
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'status', status: 401, times: 5 })
    const error = await rejection(h.getWorkspace(), AzureRequestError)
    assert.equal(error.status, 401)
    assert.equal(matching(h.requests(), WORKSPACE).length, 2)
    assert.equal(matching(h.requests(), TOKEN, 'POST').length, 2)
  })

  it('reuses the cached token for every request', async () => {
    const h = harness()
    for (let i = 0; i < 5; i++) await h.getWorkspace()
    assert.equal(matching(h.requests(), TOKEN, 'POST').length, 1)
  })
})

const TOKEN_RE = new RegExp(TOKEN)

describe('request pipeline: bad answers', () => {
  it('retries an answer cut off mid-body (an idempotent GET), then carries on', { timeout: 4000 }, async () => {
    const h = harness({ timeoutMs: 2000 })
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'truncated', times: 1 })
    const response = await h.getWorkspace()
    assert.equal(response.status, 200)
    assert.equal(response.json<{ name: string }>().name, 'local-ws')
    assert.equal(matching(h.requests(), WORKSPACE).length, 2)
  })

  it('names the attempts when every answer is cut off', { timeout: 4000 }, async () => {
    const h = harness({ timeoutMs: 2000 })
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'truncated', times: 6 })
    const error = await rejection(h.getWorkspace(), ActionError)
    assert.match(error.message, /^reading workspace 'local-ws': .*after 6 attempts/)
  })

  it('turns an HTML page from a proxy into an error naming status and request id', async () => {
    const h = harness()
    emulator.faults.add({ method: 'GET', path: WORKSPACE, kind: 'html', status: 502, times: 6 })
    const error = await rejection(h.getWorkspace(), AzureRequestError)
    assert.match(
      error.message,
      /^reading workspace 'local-ws': HTTP 502 HtmlResponse: received an HTML page \("502 Bad Gateway"\) instead of an Azure answer; a proxy, firewall or gateway may be in the way \(x-ms-request-id: [0-9a-f-]{36}\) after 6 attempts$/
    )
    assert.doesNotMatch(error.message, /<html|<center/i, 'the markup itself is not shown')
  })

  it('a 2xx answer that is not JSON is a clear error, not a SyntaxError', async () => {
    const h = harness()
    const spec: FaultSpec = { method: 'GET', path: WORKSPACE, kind: 'status', status: 200, body: 'upstream says hi', times: 1 }
    emulator.faults.add(spec)
    const response = await h.getWorkspace()
    const error = (() => {
      try {
        response.json()
      } catch (e) {
        return e
      }
      return undefined
    })()
    assert.ok(error instanceof ActionError, String(error))
    assert.match(error.message, /^reading workspace 'local-ws': HTTP 200 but the answer is not JSON \(got 'upstream says hi'\) \(x-ms-request-id: [0-9a-f-]{36}\)$/)
  })
})
