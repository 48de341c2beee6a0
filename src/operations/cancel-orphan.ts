import { connectWorkspace, createSession } from '../azureml/connect.js'
import { isTerminalStatus } from '../azureml/run-status.js'
import type { AzureSettings } from '../inputs.js'
import type { Logger } from '../logger.js'

/** The run the main step was waiting for when it stopped, as saved in the step's state. */
export interface OrphanRun {
  experiment: string
  runId: string
}

/** Reads the saved state; undefined when the main step finished waiting (or never started a run). */
export function parseOrphan(saved: string): OrphanRun | undefined {
  if (!saved) return undefined
  try {
    const value = JSON.parse(saved) as Partial<OrphanRun>
    if (typeof value.experiment === 'string' && typeof value.runId === 'string') return { experiment: value.experiment, runId: value.runId }
  } catch {
    // not ours
  }
  return undefined
}

/**
 * The post step's job: a run that the main step started and was still waiting for when the step was killed
 * (workflow cancelled, runner timeout) is cancelled, so no compute keeps running for a workflow that is gone.
 */
export async function cancelOrphanRun(azure: AzureSettings, orphan: OrphanRun, logger: Logger): Promise<'cancelled' | 'already-ended'> {
  const session = createSession(azure, logger)
  try {
    const clients = await connectWorkspace(session, azure)
    const run = await clients.history.getRun(orphan.experiment, orphan.runId)
    if (isTerminalStatus(run.status)) {
      logger.info(`Run ${orphan.runId} has ended (${run.status}); nothing to cancel.`)
      return 'already-ended'
    }
    await clients.execution.cancelRun(orphan.experiment, orphan.runId)
    logger.info(`Cancelled run ${orphan.runId} (it was ${run.status}): the step that started it stopped before it ended.`)
    return 'cancelled'
  } finally {
    session.pipeline.dispose()
  }
}
