/**
 * `train` in-process against the local Azure ML service's faults: a start whose answer is lost, transient
 * errors and NotResponding periods while waiting, a 401 mid-run, and answers that are not what Azure sends.
 * The pipeline's sleep is injected (retries do not wait); polling is fast.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { ActionError } from '../../src/errors.js'
import { train } from '../../src/operations/train.js'
import { eventually, findLeaks, tempWorkspace } from '../helpers/e2e.js'
import { listRuns, testContext, trainSettings, type TestContext } from '../helpers/in-process.js'

let ws: { root: string; cleanup(): void }
before(() => {
  ws = tempWorkspace({
    'train.py': 'import sys, time\nprint("training")\ntime.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)\nprint("done")\n'
  })
})
after(() => ws.cleanup())

/**
 * Each test gets its own local Azure ML service, so that tests run side by side and the faults and the
 * request log of one are its own.
 */
const emulators: Emulator[] = []
async function service(): Promise<Emulator> {
  const emulator = await startEmulator({ port: 0, runPhaseDelayMs: 20 })
  emulators.push(emulator)
  return emulator
}
after(() => Promise.all(emulators.map(e => e.close())))

function settings(emulator: Emulator, inputs: Record<string, string> = {}) {
  return trainSettings(emulator, ws.root, { 'experiment-name': 'faults', script: 'train.py', ...inputs })
}

const isStart = (r: Emulator['requests'][number]) => r.method === 'POST' && r.path.endsWith('/startrun')
const isToken = (r: Emulator['requests'][number]) => r.method === 'POST' && r.path.endsWith('/oauth2/v2.0/token')
const isGetRun = (r: Emulator['requests'][number]) => r.method === 'GET' && /\/history\/v1\.0\/.*\/runs\/[^/]+$/.test(r.path)
const warnings = (ctx: TestContext) => ctx.logger.lines.filter(l => l.startsWith('warning: '))

async function failure(promise: Promise<unknown>): Promise<ActionError> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof ActionError, `expected an ActionError (a message for the user), got ${(error as Error)?.stack ?? String(error)}`)
    return error
  }
  assert.fail('expected train to fail')
}

describe('train against faults (in-process)', { concurrency: true }, () => {
  it('a start whose answer is lost is sent again, meets its own run (409) and carries on with it: one run', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'POST', path: '/startrun$', kind: 'reset', afterHandling: true, times: 1 })
    const s = settings(emulator)
    const ctx = testContext()
    const outcome = await train(s, ctx)
    assert.equal(outcome.status, 'Completed')
    const starts = emulator.requests.filter(isStart)
    assert.deepEqual(starts.map(r => r.status), [0, 409])
    assert.deepEqual(new Set(starts.map(r => new URLSearchParams(r.query).get('runId'))), new Set([outcome.runId]), 'both attempts carry the run id the action chose')
    assert.ok(ctx.logger.lines.includes(`Run ${outcome.runId} had already been started by an earlier attempt of this request.`), ctx.logger.text())
    const runs = await listRuns(emulator, s.experimentName)
    assert.deepEqual(runs.map(r => r.runId), [outcome.runId], 'exactly one run exists')
    assert.equal(ctx.outputs['run-id'], outcome.runId)
  })

  it('a start throttled with Retry-After is sent again after the wait asked for: one run', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'POST', path: '/startrun$', kind: 'status', status: 429, retryAfterSeconds: 3, times: 1 })
    const s = settings(emulator)
    const ctx = testContext()
    const outcome = await train(s, ctx)
    assert.equal(outcome.status, 'Completed')
    assert.deepEqual(emulator.requests.filter(isStart).map(r => r.status), [429, 200])
    assert.deepEqual(ctx.retryDelays, [3000])
    assert.equal((await listRuns(emulator, s.experimentName)).length, 1)
  })

  it("a 409 for a run id that is not in this experiment is not taken for a start: the step fails with the 409's error", async () => {
    const emulator = await service()
    const conflict = JSON.stringify({ error: { code: 'UserError', message: 'Run faults_1_x already exists in experiment other-experiment' } })
    emulator.faults.add({ method: 'POST', path: '/startrun$', kind: 'status', status: 409, body: conflict, times: 1 })
    const ctx = testContext()
    const error = await failure(train(settings(emulator), ctx))
    assert.match(error.message, /^starting run '.*' in experiment 'faults': HTTP 409 UserError: Run faults_1_x already exists in experiment other-experiment \(x-ms-request-id: [0-9a-f-]{36}\)$/)
    assert.equal(ctx.outputs['run-id'], undefined)
    assert.equal(ctx.state['azureml-run-to-cancel'], '', 'nothing for the post step to cancel')
    assert.ok(!emulator.requests.some(r => r.method === 'PATCH'), 'no run was tagged')
  })

  it('the run id startrun answers with is the one followed, with a warning when it is not the one sent', async () => {
    const emulator = await service()
    const earlier = await train(settings(emulator, { wait: 'false' }), testContext())
    emulator.faults.add({ method: 'POST', path: '/startrun$', kind: 'status', status: 200, body: JSON.stringify({ runId: earlier.runId }), times: 1 })
    const ctx = testContext()
    const outcome = await train(settings(emulator), ctx)
    const sent = new URLSearchParams(emulator.requests.filter(isStart).at(-1)!.query).get('runId')
    assert.notEqual(sent, earlier.runId)
    assert.equal(outcome.runId, earlier.runId)
    assert.equal(outcome.status, 'Completed')
    assert.equal(ctx.outputs['run-id'], earlier.runId)
    assert.deepEqual(warnings(ctx), [`warning: Azure ML started the run as ${earlier.runId}, not as ${sent} as asked; following ${earlier.runId}.`])
  })

  it('a start answered 500 is sent again (the run id makes it safe): one run', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'POST', path: '/startrun$', kind: 'status', status: 500, times: 2 })
    const s = settings(emulator)
    const outcome = await train(s, testContext())
    assert.equal(outcome.status, 'Completed')
    assert.deepEqual(emulator.requests.filter(isStart).map(r => r.status), [500, 500, 200])
    assert.equal((await listRuns(emulator, s.experimentName)).length, 1)
  })

  it('keeps waiting through status polls that fail beyond the pipeline\'s retries (503 × 8)', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '/history/v1\\.0/.*/runs/[^/]+$', kind: 'status', status: 503, times: 8 })
    const ctx = testContext()
    const outcome = await train(settings(emulator, { arguments: '0.5' }), ctx)
    assert.equal(outcome.status, 'Completed')
    assert.equal(outcome.waited, true)
    const w = warnings(ctx)
    assert.equal(w.length, 1, ctx.logger.text())
    assert.match(w[0], /Could not read the run status \(reading run '.*': HTTP 503 TransientError: .*after 6 attempts\); still waiting\./)
    const polls = emulator.requests.filter(isGetRun)
    assert.deepEqual(polls.slice(0, 9).map(r => r.status), [503, 503, 503, 503, 503, 503, 503, 503, 200])
    assert.ok(ctx.logger.lines.includes('done'), 'the driver log was still streamed')
  })

  it('waits through a NotResponding period: the run comes back and completes, nothing is cancelled', async () => {
    const emulator = await service()
    const ctx = testContext()
    const held = eventually('the run to be Running', () => {
      const runId = ctx.outputs['run-id']
      return runId && emulator.getRun(runId)?.actualStatus === 'Running' ? runId : undefined
    }).then(runId => emulator.holdRun(runId, 'NotResponding', 1))
    const outcome = await train(settings(emulator, { arguments: '0.5' }), ctx)
    await held
    assert.equal(outcome.status, 'Completed')
    const statuses = ctx.logger.lines.filter(l => l.startsWith('Run status: '))
    const notResponding = statuses.indexOf('Run status: NotResponding (the run missed a heartbeat; Azure ML keeps it and it usually comes back)')
    assert.ok(notResponding > 0, statuses.join('\n'))
    assert.equal(statuses.at(-1), 'Run status: Completed')
    assert.ok(!emulator.requests.some(r => r.path.endsWith('/cancel')), 'no cancel was sent')
    assert.deepEqual(warnings(ctx), [])
  })

  it('a 401 mid-run gets a fresh token and the wait goes on unnoticed', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '/history/v1\\.0/.*/runs/[^/]+$', kind: 'status', status: 401, times: 1 })
    const ctx = testContext()
    const outcome = await train(settings(emulator), ctx)
    assert.equal(outcome.status, 'Completed')
    assert.equal(emulator.requests.filter(isToken).length, 2, 'one token, then one refresh')
    assert.deepEqual(warnings(ctx), [])
    assert.doesNotMatch(ctx.logger.lines.filter(l => !l.startsWith('debug: ')).join('\n'), /401/)
  })

  it('a driver log read that times out never shows the SAS signature, in any log line', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '^/blob/', kind: 'hang', times: 6 })
    const ctx = testContext({ timeoutMs: 400 })
    const outcome = await train(settings(emulator, { arguments: '0.3' }), ctx)
    assert.equal(outcome.status, 'Completed')
    assert.match(ctx.logger.text(), /warning: Could not read the driver log/, 'the read did fail')
    assert.deepEqual(findLeaks({ log: ctx.logger.text() }, []), [])
  })
})

describe('train against bad answers (in-process)', { concurrency: true }, () => {
  it("a workspace answer without a discovery URL (200 {}) is a clear error with status and request id", async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '/workspaces/local-ws$', kind: 'status', status: 200, body: '{}', times: 1 })
    const error = await failure(train(settings(emulator), testContext()))
    assert.match(error.message, /^reading workspace 'local-ws' in resource group 'local-rg': .*no properties\.discoveryUrl/)
    assert.match(error.message, /HTTP 200/)
    assert.match(error.message, /x-ms-request-id: [0-9a-f-]{36}/)
    assert.equal(emulator.requests.filter(isStart).length, 0)
  })

  it('a start answer without runId is a clear error with status and request id', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'POST', path: '/startrun$', kind: 'status', status: 200, body: '{"status":"ok"}', times: 1 })
    const error = await failure(train(settings(emulator), testContext()))
    assert.match(error.message, /^starting run '.*' in experiment '.*': .*no runId/)
    assert.match(error.message, /HTTP 200/)
    assert.match(error.message, /x-ms-request-id: [0-9a-f-]{36}/)
  })

  it('an HTML page from a proxy instead of the discovery document is a clear error', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '^/discovery$', kind: 'html', status: 200, times: 1 })
    const error = await failure(train(settings(emulator), testContext()))
    assert.match(error.message, /^reading the discovery document of workspace 'local-ws': HTTP 200 but the answer is not JSON \(got '<html>.*'\) \(x-ms-request-id: [0-9a-f-]{36}\)$/)
    assert.match(error.hint ?? '', /proxy/)
  })

  it("status answers that are not Azure's (not JSON, a proxy's HTML page with 200, no status) are waited out with a warning", async () => {
    const emulator = await service()
    const runs = '/history/v1\\.0/.*/runs/[^/]+$'
    emulator.faults.add({ method: 'GET', path: runs, kind: 'status', status: 200, body: 'OK', times: 1 })
    emulator.faults.add({ method: 'GET', path: runs, kind: 'html', status: 200, times: 1 })
    emulator.faults.add({ method: 'GET', path: runs, kind: 'status', status: 200, body: '{"runId":"x"}', times: 1 })
    const ctx = testContext()
    const outcome = await train(settings(emulator), ctx)
    assert.equal(outcome.status, 'Completed')
    const w = warnings(ctx)
    assert.equal(w.length, 3, ctx.logger.text())
    assert.match(w[0], /^warning: Could not read the run status \(reading run '.*' of experiment '.*': HTTP 200 but the answer is not JSON \(got 'OK'\) \(x-ms-request-id: [0-9a-f-]{36}\)\); still waiting\.$/)
    assert.match(w[1], /HTTP 200 but the answer is not JSON \(got '<html>/)
    assert.match(w[2], /HTTP 200 but the answer has no run status \(x-ms-request-id: [0-9a-f-]{36}\)\); still waiting\.$/)
    assert.deepEqual(emulator.requests.filter(isGetRun).slice(0, 4).map(r => r.fault ?? 'none'), ['status', 'html', 'status', 'none'])
  })

  it('status answers that stay non-JSON beyond the failure budget end the wait with a clear error naming status and request id', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '/history/v1\\.0/.*/runs/[^/]+$', kind: 'status', status: 200, body: 'OK', times: 1000 })
    const ctx = testContext({ polling: { failureBudgetMs: 300 } })
    const error = await failure(train(settings(emulator), ctx))
    assert.match(error.message, /^Lost contact with run .* for 0 min: reading run '.*' of experiment '.*': HTTP 200 but the answer is not JSON \(got 'OK'\) \(x-ms-request-id: [0-9a-f-]{36}\)$/)
    assert.match(error.hint ?? '', /goes on in Azure ML/)
    assert.equal(ctx.state['azureml-run-to-cancel'], '', 'the post step leaves the run alone, as the hint says')
  })

  it('HTML error pages on every attempt end in one error naming the proxy, status, request id and attempts', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '/workspaces/local-ws$', kind: 'html', status: 504, times: 6 })
    const ctx = testContext()
    const error = await failure(train(settings(emulator), ctx))
    assert.match(error.message, /HTTP 504 HtmlResponse: received an HTML page \("504 Gateway Time-out"\) .*\(x-ms-request-id: [0-9a-f-]{36}\) after 6 attempts$/)
    assert.equal(ctx.retryDelays.length, 5)
  })
})
