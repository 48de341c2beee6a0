import * as core from '@actions/core'
import { context } from '@actions/github'
import type { OutputName } from './constants.js'
import { ActionError, InputError } from './errors.js'
import { parseSettings, type Settings } from './inputs.js'
import type { Logger } from './logger.js'
import { coreLogger } from './core-logger.js'
import { abortableSleep, type GitHubContext, type OperationContext } from './operations/context.js'
import { train } from './operations/train.js'
import { runFailure, runOutputs, runSummary } from './report/run-report.js'

/** What an operation leaves for the edge to publish. */
interface OperationResult {
  outputs: Partial<Record<OutputName, string>>
  summary?: string
  failure?: ActionError
}

/**
 * The action's edge: reads inputs, runs the operation, publishes outputs and the job summary, and turns
 * any error into one `::error::` line. The only module (with post.ts) that imports @actions/core.
 */
export async function run(): Promise<void> {
  const logger = coreLogger()
  const cancellation = new AbortController()
  const onSignal = (signal: NodeJS.Signals) => {
    if (cancellation.signal.aborted) return
    logger.info(`Received ${signal}: the workflow is being cancelled.`)
    cancellation.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    const settings = parseSettings(name => core.getInput(name), {
      workspaceRoot: process.env.GITHUB_WORKSPACE || process.cwd(),
      mask: secret => core.setSecret(secret)
    })
    const ctx: OperationContext = {
      logger,
      setOutput: (name, value) => core.setOutput(name, value),
      saveState: (key, value) => core.saveState(key, value),
      github: githubContext(),
      now: Date.now,
      sleep: abortableSleep,
      signal: cancellation.signal
    }
    const result = await dispatch(settings, ctx)
    for (const [name, value] of Object.entries(result.outputs)) core.setOutput(name, value)
    if (result.summary && process.env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(result.summary).write()
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

async function dispatch(settings: Settings, ctx: OperationContext): Promise<OperationResult> {
  switch (settings.operation) {
    case 'train': {
      const outcome = await train(settings, ctx)
      return { outputs: runOutputs(outcome), summary: runSummary(outcome), failure: runFailure(outcome) }
    }
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
