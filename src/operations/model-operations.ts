import { connectWorkspace, withSession } from '../azureml/connect.js'
import { metricsFromRunMetrics } from '../azureml/metrics.js'
import { Outputs } from '../constants.js'
import { table } from '../report/markdown.js'
import type { DeleteModelSettings, RegisterModelSettings } from '../settings.js'
import type { OperationContext } from './context.js'
import { modelOutput, registerFromRun } from './register-model.js'
import type { OperationResult } from './result.js'

/** `register-model`: registers `model-path` from the outputs of `run-id` as a new version of `model-name`. */
export async function registerModel(settings: RegisterModelSettings, ctx: OperationContext): Promise<OperationResult> {
  return withSession(settings.azure, ctx, async session => {
    const clients = await connectWorkspace(session, settings.azure)
    const run = await clients.history.getRun(settings.experimentName, settings.runId)
    if (run.status !== 'Completed') ctx.logger.warning(`Run ${settings.runId} is ${run.status}, not Completed; registering what it has produced.`)
    const metrics = metricsFromRunMetrics(await clients.history.listMetrics(settings.experimentName, settings.runId))
    const model = modelOutput(
      await registerFromRun(clients, ctx, { runId: settings.runId, experiment: settings.experimentName, dataContainerId: run.dataContainerId, metrics }, settings.model)
    )
    return {
      outputs: { [Outputs.modelId]: model.id, [Outputs.modelName]: model.name, [Outputs.modelVersion]: model.version, [Outputs.modelRegistered]: 'true' },
      summary: `### Registered model ${model.id}\n\n${table(['', ''], [
        ['Model', model.name],
        ['Version', model.version],
        ['From run', `${settings.runId} (${settings.experimentName})`],
        ['Path', settings.model.path]
      ])}\n`
    }
  })
}

/** `delete-model`: deletes one model version; one that does not exist is not an error (it is gone either way). */
export async function deleteModel(settings: DeleteModelSettings, ctx: OperationContext): Promise<OperationResult> {
  return withSession(settings.azure, ctx, async session => {
    const clients = await connectWorkspace(session, settings.azure)
    const deleted = await clients.models.delete(settings.modelId)
    const [name, version] = settings.modelId.split(':')
    if (deleted) ctx.logger.info(`Deleted model ${settings.modelId}.`)
    else ctx.logger.notice(`Model ${settings.modelId} does not exist in workspace '${settings.azure.workspace.workspaceName}'; nothing to delete.`)
    return {
      outputs: { [Outputs.modelId]: settings.modelId, [Outputs.modelName]: name, [Outputs.modelVersion]: version },
      summary: `### Model ${settings.modelId} ${deleted ? 'deleted' : 'did not exist'}\n`
    }
  })
}
