import { connectWorkspace, withSession } from '../azureml/connect.js'
import { ClassicWebService } from '../azureml/classic-web-service.js'
import { DeployedServiceClient } from '../azureml/deployed-services.js'
import { keyPipeline } from '../http/key-pipeline.js'
import { Outputs } from '../constants.js'
import { codeBlock } from '../report/markdown.js'
import type { ClassicScoreSettings, ScoreSettings } from '../settings.js'
import type { OperationContext } from './context.js'
import type { OperationResult } from './result.js'

/** What a model container that is still starting (or being replaced) answers. */
const COLD_ENDPOINT_STATUSES: ReadonlySet<number> = new Set([502, 503])

/**
 * `score`: POSTs the JSON to a deployed model's scoring URI with its key (`Authorization: Bearer`). With
 * `service-name`, the URI and key are looked up in the workspace first. `result` is the answer as JSON
 * (or its text when it is not JSON).
 */
export async function score(settings: ScoreSettings, ctx: OperationContext): Promise<OperationResult> {
  let target: { uri: string; key?: string }
  if (settings.target.kind === 'service') {
    const { azure, serviceName } = settings.target
    target = await withSession(azure, ctx, async session => {
      const clients = await connectWorkspace(session, azure)
      const found = await new DeployedServiceClient(clients.workspace.dataPlane).scoringTarget(serviceName)
      if (found.service.state && found.service.state !== 'Healthy') ctx.logger.warning(`Deployed service '${serviceName}' is ${found.service.state}.`)
      ctx.logger.info(`Deployed service '${serviceName}' scores at ${found.uri}`)
      return found
    })
  } else {
    target = settings.target
  }
  if (!target.key) ctx.logger.info('No scoring key: calling the endpoint without authentication.')
  const pipeline = keyPipeline(ctx)
  try {
    const response = await pipeline.send({
      method: 'POST',
      url: target.uri,
      operation: 'scoring',
      auth: target.key ? { kind: 'key', headers: { authorization: `Bearer ${target.key}` } } : { kind: 'none' },
      text: { body: settings.body, contentType: 'application/json' },
      // Scoring has no side effects: a cold endpoint's 502/503 is worth a few more tries; any other
      // status is the service's answer to this input (a script's 500, a gateway's 504) and fails at once.
      idempotent: true,
      retryStatuses: COLD_ENDPOINT_STATUSES,
      timeoutMs: 120_000
    })
    const result = asJsonText(response.text)
    ctx.logger.info(`Scored: ${result.length > 2000 ? `${result.slice(0, 2000)}…` : result}`)
    return { outputs: { [Outputs.result]: result }, summary: `### Scoring result\n\n${codeBlock([pretty(result)])}\n` }
  } finally {
    pipeline.dispose()
  }
}

/** `classic-score`: a Request-Response call to a classic Studio web service (directly or through API Management). */
export async function classicScore(settings: ClassicScoreSettings, ctx: OperationContext): Promise<OperationResult> {
  const pipeline = keyPipeline(ctx)
  try {
    const results = await new ClassicWebService(pipeline, settings.service).execute(settings.body)
    const result = JSON.stringify(results)
    ctx.logger.info(`Results: ${result.length > 2000 ? `${result.slice(0, 2000)}…` : result}`)
    return { outputs: { [Outputs.result]: result }, summary: `### Request-Response results\n\n${codeBlock([pretty(result)])}\n` }
  } finally {
    pipeline.dispose()
  }
}

/** The answer as compact JSON text, or the text itself when it is not JSON. */
function asJsonText(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text))
  } catch {
    return text
  }
}

function pretty(json: string): string {
  try {
    const text = JSON.stringify(JSON.parse(json), null, 2)
    return text.length > 10_000 ? `${text.slice(0, 10_000)}\n…` : text
  } catch {
    return json
  }
}
