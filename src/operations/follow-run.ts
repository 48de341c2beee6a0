import type { WorkspaceClients } from '../azureml/connect.js'
import { describeStatus, isActiveStatus, isTerminalStatus } from '../azureml/run-status.js'
import type { Run } from '../azureml/types.js'
import { ActionError } from '../errors.js'
import { AzureRequestError, ConnectionError, UnexpectedAnswerError } from '../http/errors.js'
import { DriverLogTail } from '../report/driver-log.js'
import { Aborted, DEFAULT_POLLING, unlessAborted, type OperationContext } from './context.js'

export interface FollowOptions {
  experiment: string
  runId: string
  /** Stop waiting after this long (then the caller decides whether to cancel). */
  timeoutMs?: number
}

export interface FollowResult {
  /** The last run seen. */
  run: Run
  /** ended: the run reached Completed/Failed/Canceled; timed-out / aborted: the action stopped waiting. */
  outcome: 'ended' | 'timed-out' | 'aborted'
  /** The last lines of the driver log. */
  logTail: string[]
}

/**
 * Waits for a run: polls its status (fast at first, then every `maxMs`), prints each status change, and
 * streams the driver log into a log group as it grows. Transient failures that outlast the pipeline's
 * retries are tolerated for `failureBudgetMs` — the run keeps going on Azure whatever the network does.
 */
export async function followRun(clients: WorkspaceClients, ctx: OperationContext, options: FollowOptions): Promise<FollowResult> {
  const polling = { ...DEFAULT_POLLING, ...ctx.polling }
  const { logger } = ctx
  const started = ctx.now()
  let delay = polling.initialMs
  let lastStatus: string | undefined
  let failingSince: number | undefined
  let log: DriverLogTail | undefined
  let run: Run | undefined

  const aborted = (): FollowResult => ({ run: run ?? { runId: options.runId }, outcome: 'aborted', logTail: log?.tail() ?? [] })
  logger.startGroup(`Run ${options.runId}: status and driver log`)
  try {
    for (;;) {
      if (ctx.signal.aborted) return aborted()
      try {
        run = await unlessAborted(clients.history.getRun(options.experiment, options.runId), ctx.signal)
        failingSince = undefined
      } catch (error) {
        if (error instanceof Aborted) return aborted()
        if (!isTransient(error)) throw error
        failingSince ??= ctx.now()
        if (ctx.now() - failingSince > polling.failureBudgetMs) {
          throw new ActionError(`Lost contact with run ${options.runId} for ${Math.round((ctx.now() - failingSince) / 60_000)} min: ${(error as Error).message}`, {
            hint: `The run goes on in Azure ML. Resume waiting with operation: wait-run and run-id: ${options.runId}.`
          })
        }
        logger.warning(`Could not read the run status (${(error as Error).message}); still waiting.`)
      }
      const status = run?.status
      if (run && status !== lastStatus) {
        logger.info(`Run status: ${describeStatus(status ?? 'Unknown')}`)
        // A new phase is often soon followed by the next: look again soon. A missed heartbeat (NotResponding)
        // and the run coming back are not phases, and must not cost extra requests.
        if (status !== 'NotResponding' && lastStatus !== 'NotResponding') delay = polling.initialMs
        lastStatus = status
      }
      if (run && (isActiveStatus(status) || isTerminalStatus(status))) {
        log ??= new DriverLogTail(clients.artifacts, { runId: options.runId, dataContainerId: run.dataContainerId }, logger)
        try {
          await unlessAborted(log.poll(), ctx.signal)
        } catch (error) {
          if (error instanceof Aborted) return aborted()
          throw error
        }
      }
      if (run && isTerminalStatus(status)) {
        log?.flush()
        return { run, outcome: 'ended', logTail: log?.tail() ?? [] }
      }
      if (options.timeoutMs !== undefined && ctx.now() - started >= options.timeoutMs) {
        log?.flush()
        return { run: run ?? { runId: options.runId }, outcome: 'timed-out', logTail: log?.tail() ?? [] }
      }
      let wait = delay
      if (options.timeoutMs !== undefined) wait = Math.max(0, Math.min(wait, started + options.timeoutMs - ctx.now()))
      await ctx.sleep(wait, ctx.signal)
      delay = Math.min(polling.maxMs, Math.round(delay * polling.factor))
    }
  } finally {
    logger.endGroup()
  }
}

/**
 * Failures worth waiting out: no answer, throttling, server errors — and an answer that is not Azure's (a
 * proxy's HTML page with 200, a body of the wrong shape): one such answer must not end a wait of hours.
 */
function isTransient(error: unknown): boolean {
  if (error instanceof ConnectionError || error instanceof UnexpectedAnswerError) return true
  return error instanceof AzureRequestError && (error.status === 429 || error.status === 408 || error.status >= 500)
}
