import type { WorkspaceClients } from '../azureml/connect.js'
import { metricsFromRunMetrics } from '../azureml/metrics.js'
import { isTerminalStatus } from '../azureml/run-status.js'
import type { Run } from '../azureml/types.js'
import { StateKeys } from '../constants.js'
import { ActionError } from '../errors.js'
import type { RegistrationSettings, WaitSettings } from '../settings.js'
import type { OperationContext } from './context.js'
import { followRun, type FollowOptions, type FollowResult } from './follow-run.js'
import { registerIfGateHolds } from './register-model.js'
import type { RunOutcome } from './run-outcome.js'

/**
 * Follows a started run per the wait settings and gathers its outcome: final status, metrics, error and
 * the end of its log. On timeout the run is cancelled (unless `cancel-on-timeout: false`).
 */
export async function awaitRun(
  clients: WorkspaceClients,
  ctx: OperationContext,
  run: { experiment: string; runId: string; runUrl: string; waiting: WaitSettings; registration?: RegistrationSettings }
): Promise<RunOutcome> {
  const base = { runId: run.runId, experiment: run.experiment, runUrl: run.runUrl }
  if (!run.waiting.wait && !ctx.signal.aborted) {
    if (run.registration) {
      ctx.logger.notice(
        `Model '${run.registration.model.name}' is not registered by this step (wait: false: the run has not finished). ` +
          `The wait-run step that waits for run ${run.runId} registers it: give that step model-name${run.registration.conditions.length ? ' and register-if' : ''}.`
      )
    }
    const current = await clients.history.getRun(run.experiment, run.runId)
    ctx.logger.info(`Not waiting (wait: false). Resume later with operation: wait-run and run-id: ${run.runId}`)
    return { ...base, status: current.status ?? 'NotStarted', waited: false, timedOut: false, aborted: false, cancelRequested: false, logTail: [] }
  }
  // While the action waits, the post step knows which run to cancel should this step be killed.
  ctx.saveState(StateKeys.runToCancel, JSON.stringify({ experiment: run.experiment, runId: run.runId }))
  const timeoutMs = run.waiting.timeoutMinutes === undefined ? undefined : run.waiting.timeoutMinutes * 60_000
  const followed = await followOrLeaveRunning(clients, ctx, { experiment: run.experiment, runId: run.runId, timeoutMs })
  let final = followed.run
  if (followed.outcome === 'aborted') {
    ctx.logger.info(`The workflow was cancelled; cancelling run ${run.runId}.`)
    await clients.execution.cancelRun(run.experiment, run.runId)
    ctx.saveState(StateKeys.runToCancel, '')
    return { ...base, status: 'CancelRequested', waited: true, timedOut: false, aborted: true, cancelRequested: true, logTail: followed.logTail }
  }
  if (followed.outcome === 'timed-out') {
    if (run.waiting.cancelOnTimeout) {
      ctx.logger.info(`Run ${run.runId} did not finish within ${run.waiting.timeoutMinutes} min; cancelling it.`)
      await clients.execution.cancelRun(run.experiment, run.runId)
      final = await settle(clients, ctx, run.experiment, run.runId)
    } else {
      ctx.logger.info(`Run ${run.runId} did not finish within ${run.waiting.timeoutMinutes} min; it keeps running (cancel-on-timeout: false).`)
    }
  }
  ctx.saveState(StateKeys.runToCancel, '')
  const metrics = metricsFromRunMetrics(await clients.history.listMetrics(run.experiment, run.runId))
  const outcome: RunOutcome = {
    ...base,
    status: final.status ?? 'Unknown',
    waited: true,
    timedOut: followed.outcome === 'timed-out',
    aborted: false,
    cancelRequested: followed.outcome === 'timed-out' && run.waiting.cancelOnTimeout,
    startTimeUtc: final.startTimeUtc,
    endTimeUtc: final.endTimeUtc,
    metrics,
    error: final.error?.error?.message,
    logTail: followed.logTail,
    dataContainerId: final.dataContainerId
  }
  if (run.registration) outcome.registration = await registerSafely(clients, ctx, outcome, run.registration)
  return outcome
}

/**
 * Follows the run. When the step fails on its own while following (contact lost for too long, an error that
 * will not pass), the run goes on in Azure ML — as the error says — so the post step (post-if: always())
 * is told to leave it alone. Not when the workflow was cancelled: then the run is to be cancelled.
 */
async function followOrLeaveRunning(clients: WorkspaceClients, ctx: OperationContext, options: FollowOptions): Promise<FollowResult> {
  try {
    return await followRun(clients, ctx, options)
  } catch (error) {
    if (!ctx.signal.aborted) {
      ctx.saveState(StateKeys.runToCancel, '')
      ctx.logger.info(`Run ${options.runId} is left running in Azure ML: this step stopped following it.`)
    }
    throw error
  }
}

/** Registration after a run; its failure is reported with the run's outcome (the run itself completed). */
async function registerSafely(clients: WorkspaceClients, ctx: OperationContext, outcome: RunOutcome, registration: RegistrationSettings): Promise<RunOutcome['registration']> {
  try {
    return await registerIfGateHolds(clients, ctx, outcome, registration)
  } catch (error) {
    const failure = error instanceof ActionError ? error : new ActionError(`registering model '${registration.model.name}': ${(error as Error).message}`)
    return { registered: false, reasons: [failure.message], error: failure }
  }
}

/** After a cancel: the run once it has stopped (Canceled, or whatever it reached), waiting at most a minute. */
async function settle(clients: WorkspaceClients, ctx: OperationContext, experiment: string, runId: string): Promise<Run> {
  const deadline = ctx.now() + 60_000
  let delay = 250
  for (;;) {
    const current = await clients.history.getRun(experiment, runId)
    if (isTerminalStatus(current.status) || ctx.now() >= deadline) return current
    await ctx.sleep(Math.min(delay, Math.max(0, deadline - ctx.now())))
    delay = Math.min(delay * 2, 5000)
  }
}
