/**
 * Following an ARM long-running operation on a simulated clock, with a fake pipeline that answers from a
 * script: which URL is polled, how long the action waits between polls, when it gives up, and that a
 * cancelled workflow stops the polling at once.
 */
import assert from 'node:assert/strict'
import type { IncomingHttpHeaders } from 'node:http'
import { describe, it } from 'node:test'
import { ActionError } from '../../src/errors.js'
import { waitForLongRunning, type LongRunningOptions } from '../../src/http/long-running.js'
import type { HttpResponse, Pipeline, RequestSpec } from '../../src/http/pipeline.js'

const ASYNC = 'https://management.azure.com/subscriptions/s/providers/Microsoft.MachineLearningServices/locations/eastus/operationStatuses/op1?api-version=2019-11-01'
const LOCATION = 'https://management.azure.com/subscriptions/s/providers/Microsoft.MachineLearningServices/locations/eastus/operationResults/op1?api-version=2019-11-01'

function answer(status: number, headers: Record<string, string> = {}, body: unknown = ''): HttpResponse {
  const lower: IncomingHttpHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  return {
    status,
    headers: lower,
    text,
    requestId: 'req-1',
    json: <T>() => JSON.parse(text) as T,
    header: (name: string) => lower[name.toLowerCase()] as string | undefined,
    unexpected: (problem: string) => new ActionError(`HTTP ${status} but ${problem}`)
  }
}

/**
 * A clock that moves only when the wait sleeps, and a pipeline answering each GET with the next scripted
 * answer. More than 50 polls means the loop does not stop: the test fails instead of hanging.
 */
function simulate(answers: HttpResponse[], options: Partial<LongRunningOptions> = {}) {
  let clock = 0
  const sleeps: number[] = []
  const sent: Array<{ url: string; at: number }> = []
  const pipeline = {
    async send(spec: RequestSpec): Promise<HttpResponse> {
      assert.equal(spec.method, 'GET')
      sent.push({ url: spec.url, at: clock })
      if (sent.length > 50) throw new Error('polled more than 50 times')
      // The last answer repeats.
      return (answers.length > 1 ? answers.shift() : answers[0]) ?? answer(202, {}, { status: 'InProgress' })
    }
  } as unknown as Pipeline
  const wait: LongRunningOptions = {
    pipeline,
    auth: { kind: 'none' },
    operation: "creating compute 'cpu'",
    now: () => clock,
    sleep: async ms => {
      sleeps.push(ms)
      clock += ms
    },
    timeoutMs: 30 * 60_000,
    ...options
  }
  return { wait, sleeps, sent, clock: () => clock }
}

describe('waitForLongRunning', () => {
  it('waits as Retry-After asks (7 s → 7000 ms) before each poll', async () => {
    const sim = simulate([answer(200, { 'Retry-After': '7' }, { status: 'InProgress' }), answer(200, {}, { status: 'Succeeded' })])
    const result = await waitForLongRunning(answer(201, { 'Azure-AsyncOperation': ASYNC, 'Retry-After': '7' }), sim.wait)
    assert.equal(result, undefined)
    assert.deepEqual(sim.sleeps, [7000, 7000])
    assert.deepEqual(sim.sent.map(s => s.at), [7000, 14_000])
  })

  it('follows Azure-AsyncOperation, not Location, when the answer has both', async () => {
    const progress: string[] = []
    const sim = simulate([answer(200, {}, { status: 'InProgress' }), answer(200, {}, { status: 'Succeeded' })], { onProgress: s => progress.push(s) })
    await waitForLongRunning(answer(201, { 'Azure-AsyncOperation': ASYNC, Location: LOCATION }), sim.wait)
    assert.deepEqual(sim.sent.map(s => s.url), [ASYNC, ASYNC])
    assert.deepEqual(progress, ['InProgress', 'Succeeded'])
  })

  it('falls back to Location: 202 while running, the final answer when done', async () => {
    const sim = simulate([answer(202, { Location: LOCATION, 'Retry-After': '2' }), answer(200, {}, { name: 'ws' })], { defaultIntervalMs: 3000 })
    const result = await waitForLongRunning(answer(202, { Location: LOCATION }), sim.wait)
    assert.equal(result?.status, 200)
    assert.deepEqual(result?.json(), { name: 'ws' })
    assert.deepEqual(sim.sent.map(s => s.url), [LOCATION, LOCATION])
    assert.deepEqual(sim.sleeps, [3000, 2000], 'the default interval without Retry-After, then as asked')
  })

  it('an answer with neither header is already the end: nothing is polled', async () => {
    const sim = simulate([])
    assert.equal(await waitForLongRunning(answer(200), sim.wait), undefined)
    assert.deepEqual(sim.sent, [])
  })

  it('a failed operation is an error with its code, message and request id', async () => {
    const sim = simulate([answer(200, {}, { status: 'Failed', error: { code: 'QuotaExceeded', message: 'Not enough cores' } })])
    await assert.rejects(
      waitForLongRunning(answer(201, { 'Azure-AsyncOperation': ASYNC }), sim.wait),
      (e: unknown) => e instanceof ActionError && e.message === "creating compute 'cpu': the operation ended Failed: QuotaExceeded: Not enough cores (x-ms-request-id: req-1)"
    )
  })

  it('gives up after timeoutMs, before a poll that would come too late, saying the operation goes on', async () => {
    const sim = simulate([answer(200, { 'Retry-After': '20' }, { status: 'InProgress' })], { timeoutMs: 60_000 })
    const error = await waitForLongRunning(answer(201, { 'Azure-AsyncOperation': ASYNC, 'Retry-After': '20' }), sim.wait).then(
      () => assert.fail('expected a timeout'),
      (e: unknown) => e
    )
    assert.ok(error instanceof ActionError)
    assert.match(error.message, /^creating compute 'cpu': still not done after 1 min; giving up waiting \(the operation goes on in Azure\)$/)
    assert.match(error.hint ?? '', /timeout-minutes/)
    assert.deepEqual(sim.sent.map(s => s.at), [20_000, 40_000, 60_000])
    assert.ok(sim.clock() <= 60_000)
  })

  it('stops at once when the workflow is cancelled, with an error saying the operation goes on in Azure', async () => {
    const cancellation = new AbortController()
    const sim = simulate([answer(200, { 'Retry-After': '1' }, { status: 'InProgress' })])
    // As the action's sleep does: a cancellation ends the wait early.
    const sleep = async (ms: number) => {
      sim.sleeps.push(ms)
      if (sim.sent.length === 3) cancellation.abort()
    }
    const error = await waitForLongRunning(answer(201, { 'Azure-AsyncOperation': ASYNC }), { ...sim.wait, sleep, signal: cancellation.signal }).then(
      () => assert.fail('expected the wait to stop'),
      (e: unknown) => e
    )
    assert.ok(error instanceof ActionError, String(error))
    assert.match(error.message, /^creating compute 'cpu': the workflow was cancelled; stopped waiting \(the operation goes on in Azure; follow it in the Azure portal\)$/)
    assert.equal(sim.sent.length, 3, 'no poll after the cancellation')
  })

  it('a workflow already cancelled polls nothing', async () => {
    const cancellation = new AbortController()
    cancellation.abort()
    const sim = simulate([])
    await assert.rejects(waitForLongRunning(answer(201, { 'Azure-AsyncOperation': ASYNC }), { ...sim.wait, signal: cancellation.signal }), /the workflow was cancelled/)
    assert.deepEqual(sim.sent, [])
  })
})
