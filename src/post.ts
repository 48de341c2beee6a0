import * as core from '@actions/core'
import { StateKeys } from './constants.js'
import { coreLogger } from './core-logger.js'
import { parseAzureSettings } from './inputs.js'
import { cancelOrphanRun, parseOrphan } from './operations/cancel-orphan.js'

/**
 * The post step: cancels the Azure ML run the main step left running when it was killed. It never fails
 * the job — at worst it warns that the run may still be going.
 */
async function post(): Promise<void> {
  const orphan = parseOrphan(core.getState(StateKeys.runToCancel))
  if (!orphan) return
  try {
    const azure = parseAzureSettings(name => core.getInput(name), {
      workspaceRoot: process.env.GITHUB_WORKSPACE || process.cwd(),
      mask: secret => core.setSecret(secret)
    })
    await cancelOrphanRun(azure, orphan, coreLogger())
  } catch (error) {
    core.warning(`Could not cancel run ${orphan.runId}, which the main step left running: ${(error as Error).message}. Cancel it in Azure ML studio.`)
  }
}

await post()
