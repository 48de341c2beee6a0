import { randomBytes } from 'node:crypto'
import { connectWorkspace, createSession, type WorkspaceClients } from '../azureml/connect.js'
import { applyOverrides, validateRunDefinition, type RunDefinition } from '../azureml/run-definition.js'
import { runUrl } from '../azureml/studio.js'
import { Outputs, StateKeys } from '../constants.js'
import { ActionError } from '../errors.js'
import { AzureRequestError } from '../http/errors.js'
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
    // Not raced against cancellation: once sent, the start may have happened and must be cancelled, not forgotten.
    const runId = await startRun(clients, ctx, { experiment: settings.experimentName, runId: newRunId(settings.experimentName), zipPath: snapshot.zipPath, definition, waiting: settings.waiting.wait })
    await snapshot.dispose()
    const url = runUrl(session.cloud, session.tenantId, settings.azure.workspace, runId)
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

/**
 * Sends startrun with the run id the action chose; returns the id of the run that got started. When the step
 * is to wait for the run, the post step is told about it before the start is sent: should the step be killed
 * while the start is on its way (or while the run is tagged), the run may exist without the action knowing,
 * and must not be left running. (With wait: false the run is meant to go on after the step anyway.)
 */
async function startRun(
  clients: WorkspaceClients,
  ctx: OperationContext,
  start: { experiment: string; runId: string; zipPath: string; definition: RunDefinition; waiting: boolean }
): Promise<string> {
  const { experiment, runId } = start
  const tellPostStep = (id: string) => {
    if (start.waiting) ctx.saveState(StateKeys.runToCancel, id && JSON.stringify({ experiment, runId: id }))
  }
  tellPostStep(runId)
  try {
    const started = await clients.execution.startRun(experiment, runId, start.zipPath, start.definition)
    if (started.existed) {
      // Our own earlier attempt (its answer lost) only if the run is there, in this experiment: else the id
      // belongs to a run of another experiment, and the 409 is the answer.
      if (!(await clients.history.findRun(experiment, runId))) throw started.conflict
      ctx.logger.info(`Run ${runId} had already been started by an earlier attempt of this request.`)
      return runId
    }
    if (started.runId !== runId) {
      ctx.logger.warning(`Azure ML started the run as ${started.runId}, not as ${runId} as asked; following ${started.runId}.`)
      tellPostStep(started.runId)
    }
    return started.runId
  } catch (error) {
    // A refusal (400, 403, 409…) started nothing: the post step has nothing to look for. After a lost answer
    // or a 5xx the run may exist, and the post step checks.
    if (error instanceof AzureRequestError && error.status < 500 && error.status !== 408 && error.status !== 429) tellPostStep('')
    throw error
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
    // A tag request that hangs must not keep the run from being cancelled when the workflow is.
    await unlessAborted(clients.history.addTags(experiment, runId, tags), ctx.signal)
  } catch (error) {
    if (error instanceof Aborted) return
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
