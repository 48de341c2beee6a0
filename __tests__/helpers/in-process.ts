/**
 * In-process helpers: the action's own operations against the local Azure ML service, with time injected
 * (the pipeline's sleep records the delays it asks for instead of waiting) and an in-memory logger.
 */
import type { Emulator } from '../../emulator/index.js'
import { requestAzureAdToken } from '../../src/auth/azure-ad.js'
import { CachedCredential } from '../../src/auth/cached-credential.js'
import { resolveCloud } from '../../src/clouds.js'
import { HostPolicy } from '../../src/http/host-policy.js'
import { Pipeline, type PipelineOptions, type RequestAuth } from '../../src/http/pipeline.js'
import type { RetryOptions } from '../../src/http/retry.js'
import { parseSettings, type AzureSettings, type TrainSettings } from '../../src/inputs.js'
import { MemoryLogger } from '../../src/logger.js'
import { abortableSleep, type OperationContext, type PollingOptions } from '../../src/operations/context.js'
import { dataPlaneUrl, getToken } from './emulator-client.js'

/** Settings for the demo workspace of this emulator. */
export function azureSettings(emulator: Emulator): AzureSettings {
  const id = emulator.identity
  return {
    cloud: resolveCloud('AzureCloud', { authorityHost: emulator.url, resourceManager: emulator.url }),
    principal: { kind: 'secret', tenantId: id.tenantId, clientId: id.clientId, clientSecret: id.clientSecret },
    workspace: { subscriptionId: id.subscriptionId, resourceGroup: id.resourceGroup, workspaceName: id.workspaceName }
  }
}

/**
 * The request pipeline and Azure AD credential of the demo principal, built from the pipeline's own parts
 * (no workspace discovery).
 */
export function demoPipeline(emulator: Emulator, logger: MemoryLogger, options: Partial<Omit<PipelineOptions, 'logger' | 'hostPolicy'>> = {}): { pipeline: Pipeline; auth: RequestAuth } {
  const azure = azureSettings(emulator)
  const pipeline = new Pipeline({ ...options, logger, hostPolicy: new HostPolicy(azure.cloud) })
  const id = emulator.identity
  const credential = new CachedCredential(
    () =>
      requestAzureAdToken(pipeline, {
        authorityHost: azure.cloud.authorityHost,
        tenantId: id.tenantId,
        clientId: id.clientId,
        audience: azure.cloud.tokenAudience,
        client: { secret: id.clientSecret }
      }),
    logger
  )
  return { pipeline, auth: { kind: 'aad', credential } }
}

/** `train` settings read by the action's own input parser from these inputs (plus the demo workspace). */
export function trainSettings(emulator: Emulator, workspaceRoot: string, inputs: Record<string, string>): TrainSettings {
  const all: Record<string, string> = {
    'azure-credentials': emulator.credentialsJson(),
    'resource-group': emulator.identity.resourceGroup,
    'workspace-name': emulator.identity.workspaceName,
    'compute-target': emulator.identity.compute,
    ...inputs
  }
  const settings = parseSettings(name => all[name] ?? '', { workspaceRoot, mask: () => undefined, env: {} })
  if (settings.operation !== 'train') throw new Error(`expected train settings, got ${settings.operation}`)
  return settings
}

/** An OperationContext that records outputs, saved state and the delays the pipeline asked for. */
export interface TestContext extends OperationContext {
  logger: MemoryLogger
  outputs: Record<string, string>
  state: Record<string, string>
  /** Delays the request pipeline asked for between attempts (not waited). */
  retryDelays: number[]
  abort(): void
}

export function testContext(options: {
  polling?: Partial<PollingOptions>
  retry?: Partial<RetryOptions>
  timeoutMs?: number
  /** Called with every log line as it is written. */
  onLine?: (line: string) => void
  onOutput?: (name: string, value: string) => void
} = {}): TestContext {
  const logger = new MemoryLogger(true)
  if (options.onLine) {
    const push = logger.lines.push.bind(logger.lines)
    logger.lines.push = (...items: string[]): number => {
      const n = push(...items)
      for (const item of items) options.onLine?.(item)
      return n
    }
  }
  const controller = new AbortController()
  const outputs: Record<string, string> = {}
  const state: Record<string, string> = {}
  const retryDelays: number[] = []
  return {
    logger,
    outputs,
    state,
    retryDelays,
    abort: () => controller.abort(),
    setOutput: (name, value) => {
      outputs[name] = value
      options.onOutput?.(name, value)
    },
    saveState: (key, value) => {
      state[key] = value
    },
    github: { repository: 'octo-org/ml-repo', sha: 'abc' },
    now: Date.now,
    sleep: abortableSleep,
    signal: controller.signal,
    polling: { initialMs: 20, maxMs: 100, factor: 1.5, ...options.polling },
    pipeline: {
      retry: options.retry,
      timeoutMs: options.timeoutMs,
      random: () => 0.5,
      sleep: async ms => {
        retryDelays.push(ms)
      }
    }
  }
}

/** The runs of an experiment as the service lists them (plain fetch, not the action's clients). */
export async function listRuns(emulator: Emulator, experiment: string): Promise<Array<{ runId: string; status: string }>> {
  const token = await getToken(emulator)
  const runs: Array<{ runId: string; status: string }> = []
  let url: string | undefined = dataPlaneUrl(emulator, 'history/v1.0', `/experiments/${experiment}/runs`)
  while (url) {
    const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` } })
    if (res.status === 404) return runs
    if (res.status !== 200) throw new Error(`listing runs: HTTP ${res.status} ${await res.text()}`)
    const body = (await res.json()) as { value: Array<{ runId: string; status: string }>; continuationToken?: string; nextLink?: string }
    runs.push(...body.value)
    url = body.nextLink ?? undefined
    if (!url && body.continuationToken) url = `${dataPlaneUrl(emulator, 'history/v1.0', `/experiments/${experiment}/runs`)}?$continuationtoken=${encodeURIComponent(body.continuationToken)}`
  }
  return runs
}
