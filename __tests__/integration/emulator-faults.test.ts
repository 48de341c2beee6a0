import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { after, before, beforeEach, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parseFaultFlag } from '../../emulator/faults.js'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { dataPlaneUrl, definition, getToken, startRun, workspacePath } from '../helpers/emulator-client.js'

let emulator: Emulator
let token: string
before(async () => {
  emulator = await startEmulator({ port: 0, runPhaseDelayMs: 10 })
  token = await getToken(emulator)
})
beforeEach(() => emulator.faults.clear())
after(() => emulator.close())

const auth = (): Record<string, string> => ({ Authorization: `Bearer ${token}` })
const wsUrl = (): string => `${emulator.url}${workspacePath(emulator)}?api-version=2019-11-01`
const experimentsUrl = (): string => dataPlaneUrl(emulator, 'history/v1.0', '/experiments')

async function addFault(spec: Record<string, unknown>): Promise<Response> {
  return fetch(`${emulator.url}/_emulator/faults`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(spec) })
}

describe('fault injection', () => {
  it("'status' 429 answers ARM's throttling error with Retry-After for the next N matching requests only", async () => {
    const res = await addFault({ method: 'GET', path: '/workspaces/local-ws$', kind: 'status', status: 429, retryAfterSeconds: 2, times: 2 })
    assert.equal(res.status, 201)
    const { id } = (await res.json()) as { id: string }
    assert.ok(id)
    for (let i = 0; i < 2; i++) {
      const r = await fetch(wsUrl(), { headers: auth() })
      assert.equal(r.status, 429)
      assert.equal(r.headers.get('retry-after'), '2')
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'TooManyRequests')
    }
    assert.equal((await fetch(wsUrl(), { headers: auth() })).status, 200)
    const faulted = emulator.requests.filter(r => r.fault === 'status')
    assert.deepEqual(faulted.map(r => r.status), [429, 429])
  })

  it("'status' 503 on the data plane uses the ErrorResponse shape and retry-after-ms headers", async () => {
    emulator.faults.add({ path: '/history/', kind: 'status', status: 503, retryAfterMs: 250, times: 1 })
    const r = await fetch(experimentsUrl(), { headers: auth() })
    assert.equal(r.status, 503)
    assert.equal(r.headers.get('retry-after-ms'), '250')
    assert.equal(r.headers.get('x-ms-retry-after-ms'), '250')
    const body = (await r.json()) as { error: { code: string }; correlation: unknown; time: string }
    assert.equal(body.error.code, 'TransientError')
    assert.ok(body.correlation && body.time)
    assert.equal((await fetch(experimentsUrl(), { headers: auth() })).status, 200)
  })

  it("'status' on Azure AD answers an AAD-shaped error", async () => {
    emulator.faults.add({ method: 'POST', path: '/oauth2/', kind: 'status', status: 500, times: 1 })
    await assert.rejects(getToken(emulator), /HTTP 500 .*"error":"temporarily_unavailable".*AADSTS90033/)
    assert.ok(await getToken(emulator))
  })

  it("'reset' drops the connection without an answer; the request is logged with status 0", async () => {
    emulator.faults.add({ path: '/workspaces/local-ws$', kind: 'reset', times: 1 })
    await assert.rejects(fetch(wsUrl(), { headers: auth() }), (err: Error & { cause?: { code?: string } }) => err instanceof TypeError)
    assert.deepEqual(
      emulator.requests.filter(r => r.fault === 'reset').map(r => r.status),
      [0]
    )
    assert.equal((await fetch(wsUrl(), { headers: auth() })).status, 200)
  })

  it("'reset' after handling loses the answer of a start: the retry with the same runId gets 409", async () => {
    emulator.faults.add({ method: 'POST', path: '/startrun$', kind: 'reset', times: 1, afterHandling: true })
    const runId = `lost_${Date.now()}`
    const input = { experiment: 'fault-exp', runId, files: { 'a.py': 'print(1)' }, definition: definition('a.py') }
    await assert.rejects(startRun(emulator, token, input))
    assert.ok(emulator.getRun(runId), 'the run was created even though the answer was lost')
    const retry = await startRun(emulator, token, input)
    assert.equal(retry.status, 409)
  })

  it("'delay' answers normally after the delay", async () => {
    emulator.faults.add({ path: '/discovery', kind: 'delay', delayMs: 300, times: 1 })
    const started = Date.now()
    const r = await fetch(`${emulator.url}/discovery`, { headers: auth() })
    assert.equal(r.status, 200)
    assert.ok(Date.now() - started >= 290)
    const quick = Date.now()
    await fetch(`${emulator.url}/discovery`, { headers: auth() })
    assert.ok(Date.now() - quick < 250)
  })

  it("'hang' never answers (the client times out); the next request is answered", async () => {
    emulator.faults.add({ path: '/discovery', kind: 'hang', times: 1 })
    await assert.rejects(fetch(`${emulator.url}/discovery`, { headers: auth(), signal: AbortSignal.timeout(300) }), { name: 'TimeoutError' })
    assert.equal((await fetch(`${emulator.url}/discovery`, { headers: auth() })).status, 200)
  })

  it("'html' answers 502 with a proxy's HTML page", async () => {
    emulator.faults.add({ path: '/history/', kind: 'html', times: 1 })
    const r = await fetch(experimentsUrl(), { headers: auth() })
    assert.equal(r.status, 502)
    assert.match(r.headers.get('content-type') ?? '', /^text\/html/)
    assert.match(await r.text(), /<title>502 Bad Gateway<\/title>/)
  })

  it("'truncated' sends half of the real JSON body and then drops the connection", async () => {
    emulator.faults.add({ path: '/workspaces/local-ws$', kind: 'truncated', times: 1 })
    const r = await fetch(wsUrl(), { headers: auth() })
    assert.equal(r.status, 200)
    await assert.rejects(r.text())
    assert.equal((await fetch(wsUrl(), { headers: auth() })).status, 200)
  })

  it('matches the method: a POST fault leaves GETs alone', async () => {
    emulator.faults.add({ method: 'POST', path: '/discovery', kind: 'status', status: 500, times: 1 })
    assert.equal((await fetch(`${emulator.url}/discovery`, { headers: auth() })).status, 200)
    assert.equal(emulator.faults.list()[0]?.remaining, 1)
  })

  it('the control API validates faults, lists and clears them', async () => {
    for (const bad of [{ path: '(', kind: 'status', times: 1 }, { path: '/x', kind: 'explode', times: 1 }, { path: '/x', kind: 'status', times: 0 }, { path: '/x', kind: 'delay', times: 1 }]) {
      const r = await addFault(bad)
      assert.equal(r.status, 400, JSON.stringify(bad))
    }
    await addFault({ path: '/x', kind: 'status', status: 500, times: 3 })
    const listed = (await (await fetch(`${emulator.url}/_emulator/faults`)).json()) as { value: Array<{ remaining: number }> }
    assert.deepEqual(listed.value.map(f => f.remaining), [3])
    assert.equal((await fetch(`${emulator.url}/_emulator/faults`, { method: 'DELETE' })).status, 204)
    assert.deepEqual(emulator.faults.list(), [])
  })
})

describe('control API: request log and config', () => {
  it('serves and clears the request log; control calls are not logged', async () => {
    await fetch(`${emulator.url}/discovery`, { headers: { ...auth(), 'x-ms-client-request-id': 'log-me' } })
    const res = await fetch(`${emulator.url}/_emulator/requests`)
    const { value } = (await res.json()) as { value: Array<{ path: string; clientRequestId?: string; status: number; time: string; query: string }> }
    const last = value.at(-1)
    assert.equal(last?.path, '/discovery')
    assert.equal(last?.clientRequestId, 'log-me')
    assert.equal(last?.status, 200)
    assert.ok(!value.some(r => r.path.startsWith('/_emulator')))
    assert.equal((await fetch(`${emulator.url}/_emulator/requests`, { method: 'DELETE' })).status, 204)
    assert.equal(emulator.requests.length, 0)
  })

  it('changes the token lifetime at runtime and rejects bad settings', async () => {
    const ok = await fetch(`${emulator.url}/_emulator/config`, { method: 'POST', body: JSON.stringify({ tokenLifetimeSeconds: 5 }) })
    assert.equal(ok.status, 200)
    assert.equal(((await ok.json()) as { tokenLifetimeSeconds: number }).tokenLifetimeSeconds, 5)
    const id = emulator.identity
    const res = await fetch(`${emulator.url}/${id.tenantId}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: id.clientId, client_secret: id.clientSecret, resource: 'https://management.azure.com/' })
    })
    assert.equal(((await res.json()) as { expires_in: string }).expires_in, '5')
    emulator.configure({ tokenLifetimeSeconds: 3599 })
    for (const bad of [{ tokenLifetimeSeconds: 0 }, { runPhaseDelayMs: -1 }, { colour: 'blue' }]) {
      const r = await fetch(`${emulator.url}/_emulator/config`, { method: 'POST', body: JSON.stringify(bad) })
      assert.equal(r.status, 400, JSON.stringify(bad))
    }
  })
})

describe('npm run emulator -- --fault', () => {
  it('a 429 sends Retry-After (1 s unless the flag says); retry-after, retry-after-ms and after-handling are options', () => {
    assert.deepEqual(parseFaultFlag('GET /workspaces/ status:429 2'), { method: 'GET', path: '/workspaces/', kind: 'status', status: 429, times: 2, retryAfterSeconds: 1, retryAfterMs: undefined, delayMs: undefined, body: undefined, afterHandling: undefined })
    assert.equal(parseFaultFlag('GET /workspaces/ status:429:retry-after=3 1').retryAfterSeconds, 3)
    const ms = parseFaultFlag('* /history/ status:429:retry-after-ms=250 1')
    assert.deepEqual([ms.retryAfterSeconds, ms.retryAfterMs, ms.method], [undefined, 250, undefined])
    assert.equal(parseFaultFlag('GET /runs/ status:503 1').retryAfterSeconds, undefined, 'only 429 gets a default')
    assert.equal(parseFaultFlag('POST /startrun$ reset:after-handling 1').afterHandling, true)
    assert.equal(parseFaultFlag('GET /discovery delay:300 1').delayMs, 300)
    assert.equal(parseFaultFlag('GET /x html:504 1').status, 504)
    for (const bad of ['GET /x status:429:retry-after 1', 'GET /x status:429:retry-after=soon 1', 'GET /x status:429:colour=red 1', 'GET /x status 1 extra', 'GET /x explode 1']) {
      assert.throws(() => parseFaultFlag(bad), /--fault|kind/, bad)
    }
  })

  it('the command line arms them: a throttled request carries Retry-After on the wire', async () => {
    const cli = spawn(process.execPath, ['--import', 'tsx', 'emulator/cli.ts', '--port', '0', '--quiet', '--fault', 'GET /workspaces/local-ws$ status:429 1', '--fault', 'GET /workspaces/local-ws$ status:429:retry-after=3 1'], {
      cwd: path.join(path.dirname(fileURLToPath(import.meta.url)), '../..'),
      stdio: ['ignore', 'pipe', 'pipe']
    })
    try {
      let out = ''
      const url = await new Promise<string>((resolve, reject) => {
        cli.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString()
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
          if (m) resolve(m[1])
        })
        cli.once('exit', code => reject(new Error(`the emulator exited (${code}): ${out}`)))
      })
      const id = JSON.parse(/azure-credentials:\n(\{[\s\S]*?\n\})/.exec(out)?.[1] ?? '{}') as { tenantId: string; clientId: string; clientSecret: string; subscriptionId: string }
      const tokenRes = await fetch(`${url}/${id.tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: id.clientId, client_secret: id.clientSecret, scope: 'https://management.azure.com/.default' })
      })
      const { access_token } = (await tokenRes.json()) as { access_token: string }
      const ws = `${url}/subscriptions/${id.subscriptionId}/resourceGroups/local-rg/providers/Microsoft.MachineLearningServices/workspaces/local-ws?api-version=2019-11-01`
      const answers = []
      for (let i = 0; i < 3; i++) {
        const r = await fetch(ws, { headers: { Authorization: `Bearer ${access_token}` } })
        answers.push([r.status, r.headers.get('retry-after')])
      }
      assert.deepEqual(answers, [[429, '1'], [429, '3'], [200, null]])
    } finally {
      const exited = new Promise(resolve => (cli.exitCode === null ? cli.once('exit', resolve) : resolve(undefined)))
      cli.kill('SIGTERM')
      await exited
    }
  })
})
