import * as core from '@actions/core'
import { context } from '@actions/github'
import { ActionError, InputError } from './errors.js'
import { parsePullRequestComment, parseSettings, type Settings } from './inputs.js'
import { pullRequestComments } from './github-comments.js'
import type { Logger } from './logger.js'
import { coreLogger } from './core-logger.js'
import { normalizeProxyVariables } from './proxy.js'
import { abortableSleep, Aborted, unlessAborted, type GitHubContext, type OperationContext } from './operations/context.js'
import { classicBatch } from './operations/classic-batch.js'
import { createCompute, createWorkspace } from './operations/create-resources.js'
import { list } from './operations/list.js'
import { deleteModel, registerModel } from './operations/model-operations.js'
import type { OperationResult } from './operations/result.js'
import type { RunOutcome } from './operations/run-outcome.js'
import { classicScore, score } from './operations/score.js'
import { train } from './operations/train.js'
import { cancelRun, waitRun } from './operations/wait-run.js'
import { upsertRunComment } from './report/pr-comment.js'
import { runFailure, runOutputs, runSummary } from './report/run-report.js'

/**
 * The action's edge: reads inputs, runs the operation, publishes outputs and the job summary, and turns
 * any error into one `::error::` line. The only module (with post.ts) that imports @actions/core.
 */
export async function run(): Promise<void> {
  const logger = coreLogger()
  const cancellation = new AbortController()
  const onSignal = (signal: NodeJS.Signals) => {
    if (cancellation.signal.aborted) {
      // The runner sends SIGINT, then SIGTERM 7.5 s later, then kills the step: whatever is still going on
      // (a cancel request, a hanging answer) is given up now; the post step cancels what was left running.
      core.setFailed(`The workflow was cancelled; the step stopped at ${signal} before it had finished.`)
      process.exit(1)
    }
    logger.info(`Received ${signal}: the workflow is being cancelled.`)
    cancellation.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    normalizeProxyVariables(process.env, logger)
    const settings = parseSettings(name => core.getInput(name), {
      workspaceRoot: process.env.GITHUB_WORKSPACE || process.cwd(),
      mask: secret => core.setSecret(secret),
      env: process.env
    })
    const ctx: OperationContext = {
      logger,
      setOutput: (name, value) => core.setOutput(name, value),
      saveState: (key, value) => core.saveState(key, value),
      github: githubContext(),
      now: Date.now,
      sleep: abortableSleep,
      signal: cancellation.signal,
      // Retry waits (a Retry-After can ask for minutes) end when the workflow is cancelled.
      pipeline: { signal: cancellation.signal },
      githubIdToken: audience => core.getIDToken(audience)
    }
    const result = await dispatch(settings, ctx)
    for (const [name, value] of Object.entries(result.outputs)) core.setOutput(name, value)
    if (result.summary && process.env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(result.summary).write()
    if (result.comment) await commentOnPullRequest(result.comment, logger)
    if (result.failure) fail(result.failure, logger)
  } catch (error) {
    fail(error, logger)
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    // A request abandoned when the workflow was cancelled may still hold a socket: do not wait for it.
    if (cancellation.signal.aborted) setTimeout(() => process.exit(), 200).unref()
  }
}

/**
 * Operations that leave nothing running in Azure to clean up stop as soon as the workflow is cancelled; `train`,
 * `wait-run`, `classic-batch` and the resource creations handle the cancellation themselves (they cancel the run
 * or job, or say what goes on), and `cancel-run` is worth finishing.
 */
const STOP_AT_ONCE: ReadonlySet<Settings['operation']> = new Set(['list', 'score', 'classic-score', 'register-model', 'delete-model'])

async function dispatch(settings: Settings, ctx: OperationContext): Promise<OperationResult> {
  if (!STOP_AT_ONCE.has(settings.operation)) return dispatchOperation(settings, ctx)
  try {
    return await unlessAborted(dispatchOperation(settings, ctx), ctx.signal)
  } catch (error) {
    if (error instanceof Aborted || ctx.signal.aborted) throw new ActionError(`The workflow was cancelled; operation '${settings.operation}' stopped before it finished.`)
    throw error
  }
}

async function dispatchOperation(settings: Settings, ctx: OperationContext): Promise<OperationResult> {
  switch (settings.operation) {
    case 'train':
      return runResult(await train(settings, ctx))
    case 'wait-run':
      return runResult(await waitRun(settings, ctx))
    case 'cancel-run':
      return cancelRun(settings, ctx)
    case 'register-model':
      return registerModel(settings, ctx)
    case 'delete-model':
      return deleteModel(settings, ctx)
    case 'list':
      return list(settings, ctx)
    case 'create-compute':
      return createCompute(settings, ctx)
    case 'create-workspace':
      return createWorkspace(settings, ctx)
    case 'score':
      return score(settings, ctx)
    case 'classic-score':
      return classicScore(settings, ctx)
    case 'classic-batch':
      return classicBatch(settings, ctx)
  }
}

function runResult(outcome: RunOutcome): OperationResult {
  const summary = runSummary(outcome)
  return { outputs: runOutputs(outcome), summary, failure: runFailure(outcome), comment: outcome.waited ? { experiment: outcome.experiment, markdown: summary } : undefined }
}

/** Posts (or updates) the run's summary on the pull request; a failure to comment only warns. */
async function commentOnPullRequest(comment: NonNullable<OperationResult['comment']>, logger: Logger): Promise<void> {
  const settings = parsePullRequestComment(name => core.getInput(name))
  const comments = settings && pullRequestComments(settings.token)
  if (!comments) return
  try {
    await upsertRunComment(comments, comment.experiment, comment.markdown, logger)
  } catch (error) {
    const status = (error as { status?: number }).status
    logger.warning(
      `Could not comment on the pull request (${status ? `HTTP ${status}: ` : ''}${(error as Error).message}).` +
        (status === 403 || status === 404 ? ' Give the job `permissions: pull-requests: write`, or set comment-on-pr: false.' : '')
    )
  }
}

/** One `::error::` with the message and the hint; a stack only in the debug log, and only for bugs. */
function fail(error: unknown, logger: Logger): void {
  if (error instanceof ActionError) {
    core.setFailed(error.hint ? `${error.message}\nHint: ${error.hint}` : error.message)
    if (!(error instanceof InputError) && error.cause instanceof Error && error.cause.stack) logger.debug(error.cause.stack)
    return
  }
  const message = error instanceof Error ? error.message : String(error)
  core.setFailed(`Unexpected error: ${message}. Please report it with the debug log (ACTIONS_STEP_DEBUG=true).`)
  if (error instanceof Error && error.stack) logger.debug(error.stack)
}

function githubContext(): GitHubContext {
  return {
    repository: process.env.GITHUB_REPOSITORY || undefined,
    sha: context.sha || undefined,
    ref: context.ref || undefined,
    actor: context.actor || undefined,
    workflow: context.workflow || undefined,
    eventName: context.eventName || undefined,
    serverUrl: context.serverUrl || undefined,
    runId: context.runId ? String(context.runId) : undefined,
    runAttempt: process.env.GITHUB_RUN_ATTEMPT || undefined
  }
}
