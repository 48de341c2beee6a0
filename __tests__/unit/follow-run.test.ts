/**
 * The wait loop on a simulated clock, with fake clients (plain objects with the few methods followRun uses):
 * how many requests a long run costs with the default polling, how NotResponding periods and transient
 * errors are waited out, and when the action gives up (the failure budget).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { WorkspaceClients } from '../../src/azureml/connect.js'
import type { Run } from '../../src/azureml/types.js'
import { ActionError } from '../../src/errors.js'
import { AzureRequestError, ConnectionError } from '../../src/http/errors.js'
import { MemoryLogger } from '../../src/logger.js'
import { DEFAULT_POLLING, type OperationContext, type PollingOptions } from '../../src/operations/context.js'
import { awaitRun } from '../../src/operations/await-run.js'
import { followRun, type FollowResult } from '../../src/operations/follow-run.js'
import { runFailure } from '../../src/report/run-report.js'

const MIN = 60_000
const RUN_ID = 'exp_1700000000000_abcdef01'

/** Status from time t (ms since the wait began): the last phase that has started. */
type Phases = Array<[startMs: number, status: string]>

interface Sim {
  clients: WorkspaceClients
  ctx: OperationContext
  logger: MemoryLogger
  /** Simulated time of every status poll, of every log location request and every log read. */
  polls: number[]
  locates: number[]
  reads: number[]
  /** The driver log lines the run wrote. */
  written(): string[]
  clock(): number
  abort(): void
}

/**
 * A run following `phases`; its driver log gets one line every 10 s while it runs. `failure(t, n)` may make
 * the n-th poll throw. Time moves only when the loop sleeps.
 */
function simulate(phases: Phases, options: { failure?: (t: number, n: number) => Error | undefined; polling?: Partial<PollingOptions>; abortAtMs?: number } = {}): Sim {
  let clock = 0
  const logger = new MemoryLogger()
  const controller = new AbortController()
  const polls: number[] = []
  const locates: number[] = []
  const reads: number[] = []
  const statusAt = (t: number): string => phases.filter(([start]) => start <= t).at(-1)![1]
  const runningSince = phases.find(([, s]) => s === 'Running')?.[0] ?? Infinity
  const endAt = phases.find(([, s]) => ['Completed', 'Failed', 'Canceled'].includes(s))?.[0] ?? Infinity
  const logLines = (t: number): string[] => {
    const until = Math.min(t, endAt)
    const n = until < runningSince ? 0 : Math.floor((until - runningSince) / 10_000) + 1
    return Array.from({ length: n }, (_, i) => `step ${i + 1}`)
  }
  const logBytes = (t: number): Buffer => Buffer.from(logLines(t).map(l => `${l}\n`).join(''))

  const history = {
    async getRun(experiment: string, runId: string): Promise<Run> {
      assert.equal(experiment, 'exp')
      assert.equal(runId, RUN_ID)
      polls.push(clock)
      if (options.abortAtMs !== undefined && clock >= options.abortAtMs) controller.abort()
      const error = options.failure?.(clock, polls.length)
      if (error) throw error
      return { runId, status: statusAt(clock), dataContainerId: `dcid.${runId}` }
    }
  }
  const artifacts = {
    async contentUri(run: { runId: string }, path: string): Promise<string | undefined> {
      assert.equal(run.runId, RUN_ID)
      assert.equal(path, 'azureml-logs/70_driver_log.txt')
      locates.push(clock)
      return clock >= runningSince ? 'https://acct.blob.core.windows.net/azureml/ExperimentRun/dcid/70_driver_log.txt?sv=2019-02-02&sig=abc' : undefined
    },
    async readFrom(_uri: string, offset: number): Promise<Buffer> {
      reads.push(clock)
      return logBytes(clock).subarray(offset)
    }
  }
  const ctx: OperationContext = {
    logger,
    setOutput: () => undefined,
    saveState: () => undefined,
    github: {},
    now: () => clock,
    sleep: async ms => {
      assert.ok(ms >= 0, 'never a negative sleep')
      clock += ms
    },
    signal: controller.signal,
    polling: options.polling
  }
  return {
    clients: { history, artifacts } as unknown as WorkspaceClients,
    ctx,
    logger,
    polls,
    locates,
    reads,
    written: () => logLines(endAt),
    clock: () => clock,
    abort: () => controller.abort()
  }
}

/** Polls per minute, for the minutes that start at least a minute after the last status change (steady state). */
function steadyMinutes(sim: Sim, phases: Phases, end: number): Array<{ minute: number; polls: number }> {
  const changes = phases.map(([start]) => start)
  const out: Array<{ minute: number; polls: number }> = []
  for (let minute = 0; (minute + 1) * MIN <= end; minute++) {
    const from = minute * MIN
    const to = from + MIN
    const lastChange = changes.filter(c => c <= from).at(-1) ?? 0
    if (from - lastChange < MIN || changes.some(c => c > from && c < to)) continue
    out.push({ minute, polls: sim.polls.filter(t => t >= from && t < to).length })
  }
  return out
}

function printedLog(logger: MemoryLogger): string[] {
  return logger.lines.filter(l => /^step \d+$/.test(l))
}

const LONG_RUN: Phases = [
  [0, 'NotStarted'],
  [20_000, 'Queued'],
  [2 * MIN, 'Preparing'],
  [3 * MIN, 'Running'],
  [63 * MIN, 'Finalizing'],
  [63 * MIN + 30_000, 'Completed']
]

describe('followRun on a simulated clock', () => {
  it('a 60-minute run costs at most 5 status polls per minute in steady state, and no more log reads than polls', async () => {
    const sim = simulate(LONG_RUN)
    const result = await followRun(sim.clients, sim.ctx, { experiment: 'exp', runId: RUN_ID })
    assert.equal(result.outcome, 'ended')
    assert.equal(result.run.status, 'Completed')

    const end = sim.clock()
    assert.ok(end >= LONG_RUN.at(-1)![0], 'it waited for the end')
    const steady = steadyMinutes(sim, LONG_RUN, end)
    assert.ok(steady.length >= 55, `most of the run is steady state (${steady.length} minutes)`)
    for (const { minute, polls } of steady) assert.ok(polls <= 5, `minute ${minute}: ${polls} status polls`)
    const perMinute = sim.polls.length / (end / MIN)
    assert.ok(perMinute <= 5, `on average ${perMinute.toFixed(2)} polls per minute, status changes included`)
    // A status change is noticed within one poll interval.
    assert.ok(end - LONG_RUN.at(-1)![0] <= DEFAULT_POLLING.maxMs)

    assert.ok(sim.reads.length <= sim.polls.length, `${sim.reads.length} log reads for ${sim.polls.length} polls`)
    assert.ok(sim.locates.length <= 1 + sim.polls.filter(t => t < LONG_RUN[3][0]).length, 'the log is located once it exists, then reused')
    assert.equal(sim.reads.filter(t => t < LONG_RUN[3][0]).length, 0, 'no log read before the run runs')
    assert.deepEqual(printedLog(sim.logger), sim.written(), 'every line of the driver log was printed, once, in order')
    assert.deepEqual(result.logTail, sim.written().slice(-30))
  })

  it('waits out NotResponding periods (the run comes back) without extra requests', async () => {
    const phases: Phases = [
      [0, 'Queued'],
      [MIN, 'Running'],
      [20 * MIN, 'NotResponding'],
      [25 * MIN, 'Running'],
      [40 * MIN, 'NotResponding'],
      [41 * MIN, 'Running'],
      [61 * MIN, 'Completed']
    ]
    const sim = simulate(phases)
    const result = await followRun(sim.clients, sim.ctx, { experiment: 'exp', runId: RUN_ID })
    assert.equal(result.outcome, 'ended')
    assert.equal(result.run.status, 'Completed')
    const statusLines = sim.logger.lines.filter(l => l.startsWith('Run status: '))
    assert.deepEqual(statusLines, [
      'Run status: Queued (waiting for compute nodes)',
      'Run status: Running',
      'Run status: NotResponding (the run missed a heartbeat; Azure ML keeps it and it usually comes back)',
      'Run status: Running',
      'Run status: NotResponding (the run missed a heartbeat; Azure ML keeps it and it usually comes back)',
      'Run status: Running',
      'Run status: Completed'
    ])
    for (const { minute, polls } of steadyMinutes(sim, phases, sim.clock())) assert.ok(polls <= 5, `minute ${minute}: ${polls} polls`)
    assert.ok(sim.polls.length / (sim.clock() / MIN) <= 5)
    assert.ok(sim.reads.length <= sim.polls.length)
    assert.deepEqual(printedLog(sim.logger), sim.written())
    assert.doesNotMatch(sim.logger.text(), /warning/)
  })

  it('NotResponding blips (a missed heartbeat, then back) cost no more polls than the same run without them', async () => {
    const steady: Phases = [
      [0, 'Queued'],
      [MIN, 'Running'],
      [30 * MIN, 'Completed']
    ]
    const blips: Phases = [
      [0, 'Queued'],
      [MIN, 'Running'],
      [10 * MIN, 'NotResponding'],
      [10 * MIN + 40_000, 'Running'],
      [20 * MIN, 'NotResponding'],
      [20 * MIN + 40_000, 'Running'],
      [30 * MIN, 'Completed']
    ]
    const plain = simulate(steady)
    await followRun(plain.clients, plain.ctx, { experiment: 'exp', runId: RUN_ID })
    const held = simulate(blips)
    const result = await followRun(held.clients, held.ctx, { experiment: 'exp', runId: RUN_ID })
    assert.equal(result.run.status, 'Completed')
    assert.equal(held.logger.lines.filter(l => l.startsWith('Run status: NotResponding')).length, 2, 'both blips were seen')
    assert.ok(held.polls.length <= plain.polls.length + 1, `${held.polls.length} polls with the blips, ${plain.polls.length} without`)
    assert.ok(held.reads.length <= plain.reads.length + 1, `${held.reads.length} log reads with the blips, ${plain.reads.length} without`)
  })

  it('rides out transient errors (503 three times) without polling faster', async () => {
    const from = 10 * MIN
    let failures = 0
    const sim = simulate(LONG_RUN, {
      failure: t => {
        if (t < from || failures >= 3) return undefined
        failures++
        return new AzureRequestError({ operation: `reading run '${RUN_ID}'`, status: 503, code: 'TransientError', message: 'try again', requestId: 'req-1', attempts: 6 })
      }
    })
    const result = await followRun(sim.clients, sim.ctx, { experiment: 'exp', runId: RUN_ID })
    assert.equal(result.outcome, 'ended')
    assert.equal(result.run.status, 'Completed')
    const warnings = sim.logger.lines.filter(l => l.startsWith('warning: '))
    assert.equal(warnings.length, 3)
    assert.match(warnings[0], /^warning: Could not read the run status \(reading run '.*': HTTP 503 TransientError: try again \(x-ms-request-id: req-1\) after 6 attempts\); still waiting\.$/)
    const failing = sim.polls.filter(t => t >= from && t < from + MIN).length
    assert.ok(failing <= 5, `${failing} polls in the minute the errors happened`)
    assert.deepEqual(printedLog(sim.logger), sim.written(), 'no log line lost')
  })

  it('gives up when polls keep failing beyond the failure budget, naming the run and wait-run', async () => {
    const from = 10 * MIN
    const sim = simulate(LONG_RUN, {
      failure: t => (t >= from ? new ConnectionError(`reading run '${RUN_ID}'`, 'eastus.api.azureml.ms', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 6) : undefined)
    })
    const error = await followRun(sim.clients, sim.ctx, { experiment: 'exp', runId: RUN_ID }).then(
      () => assert.fail('expected followRun to give up'),
      (e: unknown) => e
    )
    assert.ok(error instanceof ActionError, String(error))
    assert.match(error.message, new RegExp(`^Lost contact with run ${RUN_ID} for 10 min: reading run '.*': no answer from eastus\\.api\\.azureml\\.ms \\(ECONNREFUSED`))
    assert.match(error.hint ?? '', new RegExp(`goes on in Azure ML.*operation: wait-run and run-id: ${RUN_ID}`))
    const firstFailure = sim.polls.find(t => t >= from)!
    const gaveUpAfter = sim.clock() - firstFailure
    assert.ok(gaveUpAfter > DEFAULT_POLLING.failureBudgetMs, 'not before the budget is spent')
    assert.ok(gaveUpAfter <= DEFAULT_POLLING.failureBudgetMs + DEFAULT_POLLING.maxMs, 'at the first poll after it')
    const failedPolls = sim.polls.filter(t => t >= from).length
    assert.ok(failedPolls <= 5 * 11, `${failedPolls} failing polls over 10 minutes`)
  })

  it('honours a shorter failure budget', async () => {
    const sim = simulate(LONG_RUN, {
      polling: { failureBudgetMs: MIN },
      failure: t => (t >= 5 * MIN ? new AzureRequestError({ operation: 'reading run', status: 502, code: 'BadGateway', message: 'bad gateway' }) : undefined)
    })
    await assert.rejects(followRun(sim.clients, sim.ctx, { experiment: 'exp', runId: RUN_ID }), new RegExp(`^ActionError: Lost contact with run ${RUN_ID} for 1 min: .*HTTP 502`))
    assert.ok(sim.clock() < 7 * MIN)
  })

  it('does not wait out an error that will not pass (403): it fails at once', async () => {
    const sim = simulate(LONG_RUN, {
      failure: t => (t >= 5 * MIN ? new AzureRequestError({ operation: 'reading run', status: 403, code: 'AuthorizationFailed', message: 'no access' }) : undefined)
    })
    await assert.rejects(followRun(sim.clients, sim.ctx, { experiment: 'exp', runId: RUN_ID }), (e: unknown) => e instanceof AzureRequestError && e.status === 403)
    assert.equal(sim.polls.filter(t => t >= 5 * MIN).length, 1)
  })

  it('stops waiting at timeoutMs, to the millisecond of the simulated clock', async () => {
    const sim = simulate(LONG_RUN)
    const result: FollowResult = await followRun(sim.clients, sim.ctx, { experiment: 'exp', runId: RUN_ID, timeoutMs: 30 * MIN })
    assert.equal(result.outcome, 'timed-out')
    assert.equal(result.run.status, 'Running')
    assert.equal(sim.clock(), 30 * MIN)
  })

  it('stops at once when the workflow is cancelled, without another poll', async () => {
    const sim = simulate(LONG_RUN, { abortAtMs: 5 * MIN })
    const result = await followRun(sim.clients, sim.ctx, { experiment: 'exp', runId: RUN_ID })
    assert.equal(result.outcome, 'aborted')
    assert.equal(sim.polls.filter(t => t >= 5 * MIN).length, 1, 'the poll that saw the cancellation is the last')
  })
})

/** awaitRun on the same simulated clock: what the action does after timeout-minutes, and what it then says. */
describe('awaitRun after timeout-minutes (simulated clock)', () => {
  function clientsFor(sim: Sim, cancels: string[]): WorkspaceClients {
    return {
      ...sim.clients,
      history: { ...sim.clients.history, listMetrics: async () => [] },
      execution: {
        cancelRun: async (_experiment: string, runId: string) => {
          cancels.push(runId)
        }
      }
    } as unknown as WorkspaceClients
  }
  const NEVER_ENDS: Phases = [
    [0, 'Queued'],
    [MIN, 'Running']
  ]
  const run = (cancelOnTimeout: boolean) => ({ experiment: 'exp', runId: RUN_ID, runUrl: 'https://ml.azure.com/runs/x', waiting: { wait: true, timeoutMinutes: 10, cancelOnTimeout } })

  it('a run still Running a minute after the cancel: the message says a cancel was asked for, not that it goes on', async () => {
    const sim = simulate(NEVER_ENDS)
    const cancels: string[] = []
    const outcome = await awaitRun(clientsFor(sim, cancels), sim.ctx, run(true))
    assert.deepEqual(cancels, [RUN_ID])
    assert.equal(outcome.status, 'Running')
    assert.equal(outcome.timedOut, true)
    assert.equal(outcome.cancelRequested, true)
    const failure = runFailure(outcome)
    assert.equal(failure?.message, `Run ${RUN_ID} did not finish within timeout-minutes; it was asked to cancel, but is still Running (https://ml.azure.com/runs/x).`)
    assert.doesNotMatch(failure?.hint ?? '', /cancel-on-timeout: false/)
    assert.match(failure?.hint ?? '', new RegExp(`operation: cancel-run and run-id: ${RUN_ID}`))
  })

  it('cancel-on-timeout: false sends no cancel, and says the run goes on', async () => {
    const sim = simulate(NEVER_ENDS)
    const cancels: string[] = []
    const outcome = await awaitRun(clientsFor(sim, cancels), sim.ctx, run(false))
    assert.deepEqual(cancels, [])
    assert.equal(outcome.cancelRequested, false)
    assert.match(runFailure(outcome)?.hint ?? '', /^It goes on in Azure ML \(cancel-on-timeout: false\)\. Resume waiting with operation: wait-run/)
  })
})
