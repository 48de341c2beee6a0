/**
 * Reliability of the bundled action (node dist/index.js, as the runner runs it) against the local Azure ML
 * service's faults: tokens that expire during a long run, a start whose answer is lost, throttling,
 * NotResponding periods, where the token may go (host policy), and answers that are not what Azure sends.
 * Each test has its own service, so that its request log and faults are its own.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Emulator } from '../../emulator/index.js'
import { emulatorsFor, errorText, eventually, runAgainst, tempWorkspace, trapProxy } from '../helpers/e2e.js'
import { dataPlaneUrl, getToken } from '../helpers/emulator-client.js'
import { listRuns } from '../helpers/in-process.js'

let ws: { root: string; cleanup(): void }
before(() => {
  ws = tempWorkspace({
    'train.py': 'import sys, time\nprint("training", flush=True)\ntime.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)\nprint("done")\n'
  })
})
const emulators = emulatorsFor({ runPhaseDelayMs: 50 })
after(async () => {
  await emulators.closeAll()
  ws.cleanup()
})
const service = emulators.start

const TRAIN = { 'experiment-name': 'reliability', script: 'train.py', 'compute-target': 'cpu-cluster' }
type Request = Emulator['requests'][number]
const isToken = (r: Request) => r.method === 'POST' && r.path.endsWith('/oauth2/v2.0/token')
const isStart = (r: Request) => r.method === 'POST' && r.path.endsWith('/startrun')

/** No stack trace and no "Unexpected error" (the words of a bug) in what the user sees. */
function assertNoCrash(run: { stdout: string; stderr: string }): void {
  assert.doesNotMatch(run.stdout + run.stderr, /^\s+at .+:\d+:\d+\)?$/m, 'no stack trace')
  assert.doesNotMatch(run.stdout + run.stderr, /Unexpected error|TypeError|SyntaxError|ReferenceError/)
}

describe('reliability (bundled action)', { concurrency: true }, () => {
  it('a run lasting several token lifetimes completes: the token is refreshed before it expires, no 401 reaches the user', async () => {
    const emulator = await service({ tokenLifetimeSeconds: 2 })
    const run = await runAgainst(emulator, { ...TRAIN, arguments: '5' }, { workspace: ws.root })
    assert.equal(run.code, 0, run.stdout)
    assert.equal(run.outputs['run-status'], 'Completed')
    assert.match(run.stdout, /^done$/m)

    const tokens = run.requests.filter(isToken)
    const rejected = run.requests.filter(r => r.status === 401)
    // 5 s of training alone is 2.5 lifetimes of 2 s (refreshed a quarter early): four tokens at least.
    assert.ok(tokens.length >= 4, `${tokens.length} token requests`)
    assert.ok(tokens.length - rejected.length >= 3, `${tokens.length} tokens, ${rejected.length} after a 401: most were refreshed before expiry`)
    // Any 401 (a token that expired a moment early) was cured by one refresh and the same request again.
    for (const r of rejected) {
      const later = run.requests.slice(run.requests.indexOf(r) + 1)
      assert.ok(isToken(later[0]), `a fresh token right after the 401 on ${r.path}`)
      assert.ok(later.some(x => x.clientRequestId === r.clientRequestId && x.status >= 200 && x.status < 300), 'the request succeeded with it')
    }
    assert.doesNotMatch(run.stdout.split('\n').filter(l => !l.startsWith('::debug::')).join('\n'), /401|Unauthorized|expired/i)
    assert.deepEqual(run.errors, [])
    assert.doesNotMatch(run.stdout, /^::warning::/m)
  })

  it('a start whose answer is lost is retried, meets 409 and carries on with that run: exactly one run', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'POST', path: '/startrun$', kind: 'reset', afterHandling: true, times: 1 })
    const run = await runAgainst(emulator, TRAIN, { workspace: ws.root, env: { ACTIONS_STEP_DEBUG: 'true', RUNNER_DEBUG: '1' } })
    assert.equal(run.code, 0, run.stdout)
    const runId = run.outputs['run-id']
    assert.equal(run.outputs['run-status'], 'Completed')
    assert.deepEqual(run.requests.filter(isStart).map(r => `${r.status} ${new URLSearchParams(r.query).get('runId')}`), [`0 ${runId}`, `409 ${runId}`])
    assert.match(run.stdout, new RegExp(`Run ${runId} had already been started by an earlier attempt`))
    assert.match(run.stdout, /^::debug::POST .*\/startrun\?api-version=[\d-]+&runId=\S+ failed in \d+ ms: /m, 'the debug log shows the lost answer')
    assert.deepEqual((await listRuns(emulator, 'reliability')).map(r => r.runId), [runId])
  })

  it('a 429 with Retry-After is waited out as asked and the user is told', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '/workspaces/local-ws$', kind: 'status', status: 429, retryAfterSeconds: 1, times: 1 })
    const run = await runAgainst(emulator, TRAIN, { workspace: ws.root, env: { ACTIONS_STEP_DEBUG: 'true', RUNNER_DEBUG: '1' } })
    assert.equal(run.code, 0, run.stdout)
    assert.equal(run.outputs['run-status'], 'Completed')
    assert.match(run.stdout, /^reading workspace 'local-ws' in resource group 'local-rg': HTTP 429 from 127\.0\.0\.1:\d+; retrying in 1\.0 s \(attempt 2 of 6\)$/m)
    const gets = run.requests.filter(r => r.method === 'GET' && r.path.endsWith('/workspaces/local-ws'))
    assert.deepEqual(gets.map(r => r.status), [429, 200])
    assert.ok(Date.parse(gets[1].time) - Date.parse(gets[0].time) >= 1000, 'not sent again before Retry-After')
    // The debug log shows both attempts (and, as the secret scan checks, no token).
    assert.match(run.stdout, /^::debug::GET http:\/\/127\.0\.0\.1:\d+\/subscriptions\/.*\/workspaces\/local-ws\?api-version=[\d-]+ → 429 in \d+ ms \(x-ms-request-id [0-9a-f-]{36}\)$/m)
    assert.doesNotMatch(run.stdout, /authorization\s*[:=]\s*\S|Bearer\s+\w/i)
  })

  it('a run that stops responding for a while and comes back is waited for, not given up or cancelled', async () => {
    const emulator = await service()
    // Once the service runs the script, it reports NotResponding for 3 s (the run's phases wait meanwhile).
    const held = eventually('the run to be Running', () => {
      const start = emulator.requests.find(isStart)
      const runId = start && new URLSearchParams(start.query).get('runId')
      return runId && emulator.getRun(runId)?.actualStatus === 'Running' ? runId : undefined
    }).then(runId => {
      emulator.holdRun(runId, 'NotResponding', 3)
      return runId
    })
    const run = await runAgainst(emulator, { ...TRAIN, arguments: '1' }, { workspace: ws.root })
    const runId = await held
    assert.equal(run.outputs['run-id'], runId)
    assert.equal(run.code, 0, run.stdout)
    assert.equal(run.outputs['run-status'], 'Completed')
    const statuses = run.stdout.split('\n').filter(l => l.startsWith('Run status: '))
    const i = statuses.indexOf('Run status: NotResponding (the run missed a heartbeat; Azure ML keeps it and it usually comes back)')
    assert.ok(i > 0, statuses.join('\n'))
    assert.equal(statuses.at(-1), 'Run status: Completed')
    assert.ok(!run.requests.some(r => r.path.endsWith('/cancel')))
    assert.deepEqual(run.errors, [])
    assert.doesNotMatch(run.stdout, /^::warning::/m)
  })
})

describe('requests per run-minute (bundled action)', { concurrency: true }, () => {
  /** Starts `train` and returns the run's id as soon as the service has the start; `onRunning` is called once the script runs. */
  async function trainWatching(emulator: Emulator, seconds: number, onRunning?: (runId: string) => void) {
    let runId: string | undefined
    const run = await runAgainst(emulator, { ...TRAIN, arguments: String(seconds) }, {
      workspace: ws.root,
      timeoutMs: 180_000,
      onStdoutLine: line => {
        if (line !== 'training' || runId) return
        const start = emulator.requests.find(isStart)!
        runId = new URLSearchParams(start.query).get('runId')!
        onRunning?.(runId)
      }
    })
    assert.equal(run.code, 0, run.stdout)
    assert.equal(run.outputs['run-status'], 'Completed')
    return run
  }

  /**
   * Every request the action made (status polls, log reads, token requests, anything) from `skipMs` after
   * the run started running until it stopped, per minute.
   */
  function perMinute(emulator: Emulator, runId: string, skipMs: number): { requests: number; windowMs: number; rate: number } {
    const azureRun = emulator.getRun(runId)!
    const from = Date.parse(azureRun.startTimeUtc!) + skipMs
    const to = Date.parse(azureRun.endTimeUtc!)
    const requests = emulator.requests.filter(r => Date.parse(r.time) >= from && Date.parse(r.time) < to).length
    return { requests, windowMs: to - from, rate: requests / ((to - from) / 60_000) }
  }

  it('a steady Running period costs a bounded number of requests per minute, and NotResponding periods do not raise it', { timeout: 180_000 }, async () => {
    // Two identical runs side by side, each against its own service; the second stops responding for 8 s,
    // ending shortly before the window measured below.
    const [plainService, heldService] = await Promise.all([service(), service()])
    let held = false
    const [plain, withHold] = await Promise.all([
      trainWatching(plainService, 45),
      trainWatching(heldService, 45, runId =>
        setTimeout(() => {
          heldService.holdRun(runId, 'NotResponding', 8)
          held = true
        }, 12_000)
      )
    ])
    assert.ok(held)
    assert.match(withHold.stdout, /^Run status: NotResponding/m, 'the action saw the run stop responding')
    // The first 25 s after the run starts running are the fast first polls, which notice the next status
    // soon; from then on: at most 5 status polls a minute, a log read each, and the odd token — 12 a minute.
    const steady = perMinute(plainService, plain.outputs['run-id'], 25_000)
    const holding = perMinute(heldService, withHold.outputs['run-id'], 25_000)
    for (const [name, m] of [['steady', steady], ['with NotResponding', holding]] as const) {
      assert.ok(m.windowMs >= 15_000, `${name}: a long enough window (${m.windowMs} ms)`)
      assert.ok(m.requests <= Math.floor((12 * m.windowMs) / 60_000) + 1, `${name}: ${m.requests} requests in ${m.windowMs} ms (${m.rate.toFixed(1)} a minute)`)
    }
    assert.ok(holding.requests <= steady.requests + 2, `with NotResponding: ${holding.requests} requests; without: ${steady.requests}`)
    // The whole time the run ran, its fast first polls included, stays well below a request a second.
    for (const [emulator, run] of [[plainService, plain], [heldService, withHold]] as const) {
      const whole = perMinute(emulator, run.outputs['run-id'], 0)
      assert.ok(whole.rate <= 40, `${whole.requests} requests over the ${whole.windowMs} ms the run ran (${whole.rate.toFixed(1)} a minute)`)
    }
  })

  it('a run that shows CancelRequested for a while (cancelled in the studio) is waited for until it is Canceled', async () => {
    const emulator = await service()
    let cancelled: Promise<Response> | undefined
    let runId: string | undefined
    const run = await runAgainst(emulator, { ...TRAIN, arguments: '60' }, {
      workspace: ws.root,
      onStdoutLine: line => {
        if (line !== 'training' || runId) return
        runId = new URLSearchParams(emulator.requests.find(isStart)!.query).get('runId')!
        // Azure ML shows CancelRequested for a while, then the run is cancelled for real.
        emulator.holdRun(runId, 'CancelRequested', 6)
        cancelled = new Promise(resolve => setTimeout(resolve, 5000)).then(async () =>
          fetch(dataPlaneUrl(emulator, 'execution/v1.0', `/experiments/${TRAIN['experiment-name']}/runId/${runId}/cancel`), {
            method: 'POST',
            headers: { Authorization: `Bearer ${await getToken(emulator)}` }
          })
        )
      }
    })
    assert.equal((await cancelled)?.status, 200)
    assert.equal(run.outputs['run-id'], runId)
    assert.equal(run.code, 1)
    const statuses = run.stdout.split('\n').filter(l => l.startsWith('Run status: '))
    assert.ok(statuses.includes('Run status: CancelRequested (waiting for the run to stop)'), statuses.join('\n'))
    assert.equal(statuses.at(-1), 'Run status: Canceled')
    assert.equal(run.outputs['run-status'], 'Canceled')
    assert.equal(run.errors.length, 1)
    assert.match(errorText(run), new RegExp(`^Run ${runId} ended Canceled`))
    assert.equal(run.requests.filter(r => r.path.endsWith('/cancel')).length, 1, 'only the studio cancelled it; the action did not')
  })
})

describe('host policy (bundled action)', { concurrency: true }, () => {
  let trap: Awaited<ReturnType<typeof trapProxy>>
  before(async () => {
    trap = await trapProxy()
  })
  after(() => trap.close())
  const viaTrap = () => ({ workspace: ws.root, env: { HTTPS_PROXY: trap.url, https_proxy: trap.url, HTTP_PROXY: trap.url, http_proxy: trap.url } })
  const workspaceBody = (emulator: Emulator, discoveryUrl: string) =>
    JSON.stringify({ id: `/subscriptions/${emulator.identity.subscriptionId}/resourceGroups/local-rg/providers/Microsoft.MachineLearningServices/workspaces/local-ws`, name: 'local-ws', location: 'eastus', properties: { discoveryUrl, provisioningState: 'Succeeded' } })

  it('(control) a discovery URL on an Azure ML host is called — through the proxy that stands in for the internet', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '/workspaces/local-ws$', kind: 'status', status: 200, body: workspaceBody(emulator, 'https://control.api.azureml.ms/discovery'), times: 1 })
    const run = await runAgainst(emulator, { ...TRAIN, 'experiment-name': 'control' }, viaTrap())
    assert.equal(run.code, 1)
    assert.ok(trap.asked.some(line => line.startsWith('CONNECT control.api.azureml.ms:443')), trap.asked.join('\n'))
  })

  it('a workspace whose discovery URL points elsewhere is refused before the token goes there', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '/workspaces/local-ws$', kind: 'status', status: 200, body: workspaceBody(emulator, 'https://evil.example.com/discovery'), times: 1 })
    const run = await runAgainst(emulator, TRAIN, viaTrap())
    assert.equal(run.code, 1)
    assert.equal(run.errors.length, 1)
    assert.match(errorText(run), /^reading the discovery document of workspace 'local-ws': refusing to send the Azure AD token to evil\.example\.com: it is not an Azure Machine Learning host of AzureCloud/)
    assert.deepEqual(run.requests.map(r => `${r.method} ${isToken(r) ? 'token' : r.path.replace(/.*\//, '')}`), ['POST token', 'GET local-ws'], 'nothing after the workspace')
    assert.ok(!trap.asked.some(line => /evil\.example\.com/.test(line)), 'no connection to evil.example.com was even attempted')
    assertNoCrash(run)
  })

  it("a discovery document whose 'api' points elsewhere is refused before the token goes there", async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '^/discovery$', kind: 'status', status: 200, body: JSON.stringify({ api: 'https://api.evil.example.net', history: 'https://api.evil.example.net' }), times: 1 })
    const run = await runAgainst(emulator, TRAIN, viaTrap())
    assert.equal(run.code, 1)
    assert.equal(run.errors.length, 1)
    assert.match(errorText(run), /refusing to send the Azure AD token to api\.evil\.example\.net/)
    assert.equal(run.requests.at(-1)?.path, '/discovery', 'no request after the discovery document')
    assert.ok(!run.requests.some(isStart))
    assert.ok(!trap.asked.some(line => /evil\.example\.net/.test(line)))
  })

  it('plain http:// to an Azure ML host is refused (https only, except loopback)', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '/workspaces/local-ws$', kind: 'status', status: 200, body: workspaceBody(emulator, 'http://eastus.api.azureml.ms/discovery'), times: 1 })
    const run = await runAgainst(emulator, TRAIN, viaTrap())
    assert.equal(run.code, 1)
    assert.match(errorText(run), /refusing to call http:\/\/eastus\.api\.azureml\.ms: only https:\/\/ is allowed/)
    assert.ok(!trap.asked.some(line => /eastus\.api\.azureml\.ms/.test(line)))
  })
})

describe('bad answers (bundled action)', { concurrency: true }, () => {
  it('a workspace answered 200 {} fails with one clear error naming status and request id', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '/workspaces/local-ws$', kind: 'status', status: 200, body: '{}', times: 1 })
    const run = await runAgainst(emulator, TRAIN, { workspace: ws.root })
    assert.equal(run.code, 1)
    assert.equal(run.errors.length, 1)
    assert.match(errorText(run), /^reading workspace 'local-ws' in resource group 'local-rg': /)
    assert.match(errorText(run), /HTTP 200/)
    assert.match(errorText(run), /x-ms-request-id: [0-9a-f-]{36}/)
    assertNoCrash(run)
  })

  it('an HTML page from a proxy instead of JSON fails with one clear error naming status and request id', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '^/discovery$', kind: 'html', status: 200, times: 1 })
    const run = await runAgainst(emulator, TRAIN, { workspace: ws.root })
    assert.equal(run.code, 1)
    assert.equal(run.errors.length, 1)
    assert.match(errorText(run), /^reading the discovery document of workspace 'local-ws': HTTP 200 but the answer is not JSON \(got '<html>.*'\) \(x-ms-request-id: [0-9a-f-]{36}\)\nHint: A proxy or gateway may have answered/)
    assertNoCrash(run)
  })

  it('a truncated answer is retried and the action carries on', { timeout: 90_000 }, async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '/workspaces/local-ws$', kind: 'truncated', times: 1 })
    // A hang guard, not a timing: the whole run takes seconds, a client waiting for the rest of the body forever.
    const run = await runAgainst(emulator, TRAIN, { workspace: ws.root, timeoutMs: 60_000 })
    assert.notEqual(run.signal, 'SIGKILL', 'the action hung on the cut-off answer and had to be killed')
    assert.equal(run.code, 0, run.stdout)
    assert.equal(run.outputs['run-status'], 'Completed')
  })
})
