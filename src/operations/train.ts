import { randomBytes } from 'node:crypto'
import { connectWorkspace, createSession, type WorkspaceClients } from '../azureml/connect.js'
import { applyOverrides, validateRunDefinition, type RunDefinition } from '../azureml/run-definition.js'
import { runUrl } from '../azureml/studio.js'
import { Outputs } from '../constants.js'
import { ActionError } from '../errors.js'
import type { TrainSettings } from '../settings.js'
import { planSnapshot, zipSnapshot } from '../snapshot/snapshot.js'
import { Aborted, unlessAborted, type GitHubContext, type OperationContext } from './context.js'
import { awaitRun } from './await-run.js'
import type { RunOutcome } from './run-outcome.js'

/**
 * `train`: snapshot the source directory, start a run with the run definition, then (unless `wait: false`)
 * follow it to the end and collect its metrics. Everything that can be checked locally — inputs, the run
 * definition, the snapshot and its limits, the entry script — is checked before the first request.
 */
export async function train(settings: TrainSettings, ctx: OperationContext): Promise<RunOutcome> {
  const { logger } = ctx
  const plan = await planSnapshot(settings.sourceDirectory, logger)
  const definition = validateRunDefinition(
    applyOverrides(settings.definitionFile?.definition, settings.overrides),
    new Set(plan.files.map(f => f.path)),
    settings.sourceDirectory
  )
  maskDefinitionSecrets(definition, ctx)
  const configuration = definition.configuration
  logger.info(`Entry script ${configuration.script}${configuration.arguments?.length ? ` with arguments ${JSON.stringify(configuration.arguments)}` : ''} on compute '${configuration.target}'`)

  const session = createSession(settings.azure, ctx)
  // Zipping and signing in / finding the workspace do not depend on each other.
  const zipping = zipSnapshot(plan, logger)
  try {
    const [snapshot, clients] = await notStartedIfAborted(Promise.all([zipping, connectWorkspace(session, settings.azure)]), ctx)
    const runId = newRunId(settings.experimentName)
    const url = runUrl(session.cloud, session.tenantId, settings.azure.workspace, runId)
    // Not raced against cancellation: once sent, the start may have happened and must be cancelled, not forgotten.
    const started = await clients.execution.startRun(settings.experimentName, runId, snapshot.zipPath, definition)
    await snapshot.dispose()
    if (started.existed) logger.info(`Run ${runId} had already been started by an earlier attempt of this request.`)
    ctx.setOutput(Outputs.runId, runId)
    ctx.setOutput(Outputs.runUrl, url)
    logger.info(`Started run ${runId} in experiment '${settings.experimentName}': ${url}`)
    const run = { experiment: settings.experimentName, runId, runUrl: url, waiting: settings.waiting, registration: settings.registration }
    if (!ctx.signal.aborted) await tagRun(clients, ctx, settings.experimentName, runId, { ...githubTags(ctx.github), ...settings.runTags })
    return await awaitRun(clients, ctx, run)
  } finally {
    session.pipeline.dispose()
    await zipping.then(
      snapshot => snapshot.dispose(),
      () => undefined
    )
  }
}

/** The promise's result, unless the workflow is cancelled first: then nothing has been started yet. */
async function notStartedIfAborted<T>(promise: Promise<T>, ctx: OperationContext): Promise<T> {
  try {
    return await unlessAborted(promise, ctx.signal)
  } catch (error) {
    if (error instanceof Aborted) throw new ActionError('The workflow was cancelled before the run was started; nothing was started in Azure ML.')
    throw error
  }
}

/** A run id Azure ML accepts (`^[a-zA-Z0-9][\w-]{0,255}$`), unique per start: `{experiment}_{ms}_{random}`. */
export function newRunId(experiment: string): string {
  const suffix = `_${Date.now()}_${randomBytes(4).toString('hex')}`
  return `${experiment.slice(0, 255 - suffix.length)}${suffix}`
}

/** Tags that tie the run to the commit and workflow run that started it. */
export function githubTags(github: GitHubContext): Record<string, string> {
  const tags: Record<string, string> = {}
  if (github.repository) tags['github.repository'] = github.repository
  if (github.sha) tags['github.sha'] = github.sha
  if (github.ref) tags['github.ref'] = github.ref
  if (github.actor) tags['github.actor'] = github.actor
  if (github.workflow) tags['github.workflow'] = github.workflow
  if (github.eventName) tags['github.event'] = github.eventName
  if (github.repository && github.runId) {
    tags['github.run_url'] = `${github.serverUrl ?? 'https://github.com'}/${github.repository}/actions/runs/${github.runId}${github.runAttempt ? `/attempts/${github.runAttempt}` : ''}`
  }
  return tags
}

async function tagRun(clients: WorkspaceClients, ctx: OperationContext, experiment: string, runId: string, tags: Record<string, string>): Promise<void> {
  if (Object.keys(tags).length === 0) return
  try {
    await clients.history.addTags(experiment, runId, tags)
  } catch (error) {
    // The run is started; a missing tag is not worth failing it for.
    ctx.logger.warning(`Could not tag run ${runId}: ${(error as Error).message}`)
  }
}

/** A registry password in the run definition is a credential too. */
function maskDefinitionSecrets(definition: RunDefinition, ctx: OperationContext): void {
  const docker = (definition.configuration.environment as { docker?: { baseImageRegistry?: { password?: unknown } } } | undefined)?.docker
  const password = docker?.baseImageRegistry?.password
  if (typeof password === 'string' && password) ctx.logger.mask(password)
}
