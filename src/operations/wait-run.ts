import { connectWorkspace, withSession } from '../azureml/connect.js'
import { runUrl } from '../azureml/studio.js'
import { Outputs } from '../constants.js'
import type { CancelRunSettings, WaitRunSettings } from '../settings.js'
import { awaitRun } from './await-run.js'
import type { OperationContext } from './context.js'
import type { OperationResult } from './result.js'
import type { RunOutcome } from './run-outcome.js'

/**
 * `wait-run`: picks up a run started earlier (for instance by `train` with `wait: false` in another job)
 * and does what `train` does after the start: follow it, stream its log, collect metrics, register.
 */
export async function waitRun(settings: WaitRunSettings, ctx: OperationContext): Promise<RunOutcome> {
  return withSession(settings.azure, ctx, async session => {
    const clients = await connectWorkspace(session, settings.azure)
    const run = await clients.history.getRun(settings.experimentName, settings.runId)
    const url = runUrl(session.cloud, session.tenantId, settings.azure.workspace, settings.runId)
    ctx.setOutput(Outputs.runId, settings.runId)
    ctx.setOutput(Outputs.runUrl, url)
    ctx.logger.info(`Resuming run ${settings.runId} of experiment '${settings.experimentName}' (${run.status}): ${url}`)
    return awaitRun(clients, ctx, {
      experiment: settings.experimentName,
      runId: settings.runId,
      runUrl: url,
      waiting: { ...settings.waiting, wait: true },
      registration: settings.registration
    })
  })
}

/** `cancel-run`: asks Azure ML to cancel the run and reports the status it reached. */
export async function cancelRun(settings: CancelRunSettings, ctx: OperationContext): Promise<OperationResult> {
  const cancelled = await requestCancel(settings, ctx)
  return {
    outputs: { [Outputs.runId]: settings.runId, [Outputs.runStatus]: cancelled.status, [Outputs.runUrl]: cancelled.runUrl },
    summary: `### Run ${settings.runId}: ${cancelled.status}\n\n[Open the run in Azure ML studio](${cancelled.runUrl})\n`
  }
}

async function requestCancel(settings: CancelRunSettings, ctx: OperationContext): Promise<{ status: string; runUrl: string }> {
  return withSession(settings.azure, ctx, async session => {
    const clients = await connectWorkspace(session, settings.azure)
    const before = await clients.history.getRun(settings.experimentName, settings.runId)
    const url = runUrl(session.cloud, session.tenantId, settings.azure.workspace, settings.runId)
    if (before.status === 'Completed' || before.status === 'Failed' || before.status === 'Canceled') {
      ctx.logger.notice(`Run ${settings.runId} has already ended (${before.status}); nothing to cancel.`)
      return { status: before.status, runUrl: url }
    }
    await clients.execution.cancelRun(settings.experimentName, settings.runId)
    const after = await clients.history.getRun(settings.experimentName, settings.runId)
    ctx.logger.info(`Cancel requested for run ${settings.runId}; it is now ${after.status}.`)
    return { status: after.status ?? 'CancelRequested', runUrl: url }
  })
}
