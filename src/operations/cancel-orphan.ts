import { connectWorkspace, createSession, type SessionContext } from '../azureml/connect.js'
import { isTerminalStatus } from '../azureml/run-status.js'
import { ClassicWebService } from '../azureml/classic-web-service.js'
import type { AzureSettings, ClassicService } from '../settings.js'
import { keyPipeline } from '../http/key-pipeline.js'

/** The batch job the main step was waiting for when it stopped. */
export interface OrphanJob {
  url: string
  jobId: string
}

/** Reads the saved batch job; undefined when there is none. */
export function parseOrphanJob(saved: string): OrphanJob | undefined {
  return parseSaved(saved, ['url', 'jobId'])
}

/** Deletes (cancels) a classic batch job the main step left running. */
export async function deleteOrphanJob(service: ClassicService, job: OrphanJob, ctx: SessionContext): Promise<void> {
  const pipeline = keyPipeline(ctx)
  try {
    await new ClassicWebService(pipeline, service).deleteJob(job.jobId)
    ctx.logger.info(`Deleted batch job ${job.jobId}: the step that started it stopped before it ended.`)
  } finally {
    pipeline.dispose()
  }
}

/** The run the main step was waiting for when it stopped, as saved in the step's state. */
export interface OrphanRun {
  experiment: string
  runId: string
}

/** Reads the saved run; undefined when the main step finished waiting (or never started a run). */
export function parseOrphan(saved: string): OrphanRun | undefined {
  return parseSaved(saved, ['experiment', 'runId'])
}

/** A saved JSON object with these string fields, or undefined (nothing saved, or not ours). */
function parseSaved<K extends string>(saved: string, keys: readonly K[]): Record<K, string> | undefined {
  if (!saved) return undefined
  try {
    const value = JSON.parse(saved) as Record<string, unknown>
    if (keys.every(k => typeof value[k] === 'string')) return Object.fromEntries(keys.map(k => [k, value[k]])) as Record<K, string>
  } catch {
    // not ours
  }
  return undefined
}

/**
 * The post step's job: a run that the main step started and was still waiting for when the step was killed
 * (workflow cancelled, runner timeout) is cancelled, so no compute keeps running for a workflow that is gone.
 */
export async function cancelOrphanRun(azure: AzureSettings, orphan: OrphanRun, ctx: SessionContext): Promise<'cancelled' | 'already-ended' | 'never-started'> {
  const { logger } = ctx
  const session = createSession(azure, ctx)
  try {
    const clients = await connectWorkspace(session, azure)
    // The run is saved before its start is sent: a step killed before the start arrived leaves an unknown id.
    const run = await clients.history.findRun(orphan.experiment, orphan.runId)
    if (!run) {
      logger.notice(`Run ${orphan.runId} was never started (Azure ML does not know it); nothing to cancel.`)
      return 'never-started'
    }
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
