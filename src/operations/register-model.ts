import type { WorkspaceClients } from '../azureml/connect.js'
import type { MetricValue } from '../azureml/metrics.js'
import { lastNumber } from '../azureml/metrics.js'
import type { Model } from '../azureml/models.js'
import { ActionError } from '../errors.js'
import type { ModelSpec, RegistrationSettings } from '../settings.js'
import type { OperationContext } from './context.js'
import { evaluateGate, metricProperty } from './model-gate.js'
import type { RegistrationOutcome, RunOutcome } from './run-outcome.js'

/** The run a model comes from. */
export interface SourceRun {
  runId: string
  experiment: string
  dataContainerId?: string
  metrics: Record<string, MetricValue>
}

/**
 * Registers `spec.path` from the run's artifacts as a new version of `spec.name`. The path must be a file
 * or folder the run produced (the error lists what it did produce). The run's metrics are kept on the model
 * as properties (`metric.<name>`), so later runs can compare themselves with it (`register-if: … champion`).
 */
export async function registerFromRun(clients: WorkspaceClients, ctx: OperationContext, run: SourceRun, spec: ModelSpec): Promise<Model> {
  const container = { runId: run.runId, dataContainerId: run.dataContainerId }
  const artifacts = await clients.artifacts.list(container)
  const matches = artifacts.filter(p => p === spec.path || p.startsWith(`${spec.path}/`))
  if (matches.length === 0) {
    const outputs = artifacts.filter(p => !p.startsWith('azureml-logs/') && !p.startsWith('logs/'))
    const shown = outputs.slice(0, 30).map(p => `  ${p}`).join('\n')
    throw new ActionError(
      `Input 'model-path': '${spec.path}' is not among the outputs of run ${run.runId}. ${outputs.length ? `The run's outputs:\n${shown}${outputs.length > 30 ? `\n  … and ${outputs.length - 30} more` : ''}` : 'The run has no outputs: the script must write the model under ./outputs/.'}`
    )
  }
  const properties: Record<string, string> = {}
  for (const [name, value] of Object.entries(run.metrics)) {
    const number = lastNumber(value)
    if (number !== undefined) properties[metricProperty(name)] = String(number)
  }
  const model = await clients.models.register({
    name: spec.name,
    runId: run.runId,
    experimentName: run.experiment,
    path: spec.path,
    dataContainerId: run.dataContainerId || `dcid.${run.runId}`,
    description: spec.description,
    framework: spec.framework,
    tags: spec.tags,
    properties
  })
  ctx.logger.info(`Registered model ${model.id} from ${spec.path} of run ${run.runId} (${matches.length} file${matches.length === 1 ? '' : 's'}).`)
  return model
}

/**
 * After a Completed run: checks `register-if` (against the latest registered version for `champion`) and
 * registers when every condition holds. A gate that does not hold is not a failure — it is reported.
 */
export async function registerIfGateHolds(clients: WorkspaceClients, ctx: OperationContext, outcome: RunOutcome, registration: RegistrationSettings): Promise<RegistrationOutcome> {
  if (outcome.status !== 'Completed') return { registered: false, reasons: [`the run ended ${outcome.status}, not Completed`] }
  const metrics = outcome.metrics ?? {}
  let reasons: string[] = []
  if (registration.conditions.length) {
    const champion = registration.conditions.some(c => c.target === 'champion') ? await clients.models.latest(registration.model.name) : undefined
    const gate = evaluateGate(registration.conditions, metrics, champion)
    reasons = gate.reasons
    for (const reason of gate.reasons) ctx.logger.info(`register-if: ${reason}`)
    for (const warning of gate.warnings) ctx.logger.warning(warning)
    if (!gate.holds) {
      ctx.logger.notice(`Model ${registration.model.name} was not registered: register-if does not hold (${gate.reasons.filter(r => r.endsWith('does not hold')).join('; ')}).`)
      return { registered: false, reasons }
    }
  }
  const model = await registerFromRun(clients, ctx, { runId: outcome.runId, experiment: outcome.experiment, dataContainerId: outcome.dataContainerId, metrics }, registration.model)
  return { registered: true, model: modelOutput(model), reasons }
}

/** The model's id, name and version as outputs want them. */
export function modelOutput(model: Model): { id: string; name: string; version: string } {
  return { id: model.id ?? `${model.name}:${model.version}`, name: model.name ?? '', version: String(model.version ?? '') }
}
