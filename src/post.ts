import * as core from '@actions/core'
import { StateKeys } from './constants.js'
import { coreLogger } from './core-logger.js'
import { normalizeProxyVariables } from './proxy.js'
import { parseAzureSettings, parseClassicServiceSettings, type ParseEnvironment } from './inputs.js'
import { cancelOrphanRun, deleteOrphanJob, parseOrphan, parseOrphanJob } from './operations/cancel-orphan.js'

/**
 * The post step: cancels the Azure ML run (or deletes the classic batch job) the main step left running
 * when it was killed. It never fails the job — at worst it warns that the run or job may still be going.
 */
async function post(): Promise<void> {
  const run = parseOrphan(core.getState(StateKeys.runToCancel))
  const job = parseOrphanJob(core.getState(StateKeys.batchJobToDelete))
  if (!run && !job) return
  normalizeProxyVariables(process.env, coreLogger())
  const env: ParseEnvironment = {
    workspaceRoot: process.env.GITHUB_WORKSPACE || process.cwd(),
    mask: secret => core.setSecret(secret),
    env: process.env
  }
  const ctx = { logger: coreLogger(), githubIdToken: (audience: string) => core.getIDToken(audience) }
  const read = (name: string) => core.getInput(name)
  if (run) {
    try {
      await cancelOrphanRun(parseAzureSettings(read, env), run, ctx)
    } catch (error) {
      core.warning(`Could not cancel run ${run.runId}, which the main step left running: ${(error as Error).message}. Cancel it in Azure ML studio.`)
    }
  }
  if (job) {
    try {
      await deleteOrphanJob(parseClassicServiceSettings(read, env), job, ctx)
    } catch (error) {
      core.warning(`Could not delete batch job ${job.jobId}, which the main step left running: ${(error as Error).message}.`)
    }
  }
}

await post()
