import type { AmlComputeSpec } from './azureml/computes.js'
import type { RunDefinition, RunDefinitionOverrides } from './azureml/run-definition.js'
import type { WorkspaceRef } from './azureml/session.js'
import type { WorkspaceSpec } from './azureml/workspace.js'
import type { Cloud } from './clouds.js'
import type { Condition } from './operations/model-gate.js'

/** The typed, validated settings of each operation, as inputs.ts builds them from the action's inputs. */

export const OPERATIONS = [
  'train',
  'wait-run',
  'cancel-run',
  'register-model',
  'delete-model',
  'list',
  'create-compute',
  'create-workspace',
  'score',
  'classic-score',
  'classic-batch'
] as const
export type Operation = (typeof OPERATIONS)[number]

/** How the action signs in to Azure AD: a client secret, or GitHub's OIDC token (workload identity federation). */
export type ServicePrincipal =
  | { kind: 'secret'; tenantId: string; clientId: string; clientSecret: string }
  | { kind: 'oidc'; tenantId: string; clientId: string; audience: string }

/** Credentials, cloud and workspace. */
export interface AzureSettings {
  cloud: Cloud
  principal: ServicePrincipal
  workspace: WorkspaceRef
}

/** Credentials, cloud and subscription (the resource group and workspace are optional here). */
export interface SubscriptionSettings {
  cloud: Cloud
  principal: ServicePrincipal
  subscriptionId: string
  resourceGroup?: string
  workspaceName?: string
}

export interface WaitSettings {
  /** false: return right after the run is started. */
  wait: boolean
  timeoutMinutes?: number
  cancelOnTimeout: boolean
}

/** A model to register from a run's outputs. */
export interface ModelSpec {
  name: string
  /** Path among the run's artifacts, e.g. outputs/model.pkl (a file or a folder). */
  path: string
  description?: string
  framework?: string
  tags: Record<string, string>
}

/** `model-name` with `train` / `wait-run`: register after a Completed run when every condition holds. */
export interface RegistrationSettings {
  model: ModelSpec
  conditions: Condition[]
}

export interface TrainSettings {
  operation: 'train'
  azure: AzureSettings
  experimentName: string
  /** Absolute path of the folder to snapshot. */
  sourceDirectory: string
  /** The run definition file, read and normalized to camelCase. */
  definitionFile?: { path: string; definition: RunDefinition }
  overrides: RunDefinitionOverrides
  runTags: Record<string, string>
  waiting: WaitSettings
  registration?: RegistrationSettings
}

export interface WaitRunSettings {
  operation: 'wait-run'
  azure: AzureSettings
  runId: string
  experimentName: string
  waiting: WaitSettings
  registration?: RegistrationSettings
}

export interface CancelRunSettings {
  operation: 'cancel-run'
  azure: AzureSettings
  runId: string
  experimentName: string
}

export interface RegisterModelSettings {
  operation: 'register-model'
  azure: AzureSettings
  runId: string
  experimentName: string
  model: ModelSpec
}

export interface DeleteModelSettings {
  operation: 'delete-model'
  azure: AzureSettings
  /** name:version */
  modelId: string
}

export const LIST_RESOURCES = ['resource-groups', 'workspaces', 'experiments', 'runs', 'models', 'computes'] as const
export type ListResource = (typeof LIST_RESOURCES)[number]

export type ListSettings =
  | { operation: 'list'; resource: 'resource-groups' | 'workspaces'; subscription: SubscriptionSettings }
  | { operation: 'list'; resource: 'experiments' | 'computes'; azure: AzureSettings }
  | { operation: 'list'; resource: 'runs'; azure: AzureSettings; experimentName: string }
  | { operation: 'list'; resource: 'models'; azure: AzureSettings; modelName?: string }

export interface CreateComputeSettings {
  operation: 'create-compute'
  azure: AzureSettings
  /** Without a location, the workspace's is used. */
  compute: Omit<AmlComputeSpec, 'location'> & { location?: string }
  timeoutMinutes?: number
}

export interface CreateWorkspaceSettings {
  operation: 'create-workspace'
  azure: AzureSettings
  workspace: WorkspaceSpec
  timeoutMinutes?: number
}

/** Where a deployed model is: its URI and key, or its name in the workspace (looked up there). */
export type ScoringTarget = { kind: 'uri'; uri: string; key?: string } | { kind: 'service'; azure: AzureSettings; serviceName: string }

export interface ScoreSettings {
  operation: 'score'
  target: ScoringTarget
  /** The JSON body, validated. */
  body: string
}

/** A classic Studio web service, directly or through API Management. */
export interface ClassicService {
  /** …/workspaces/{ws}/services/{svc}, no trailing slash. */
  url: string
  apiKey: string
  apimSubscriptionKey?: string
}

export interface ClassicScoreSettings {
  operation: 'classic-score'
  service: ClassicService
  body: string
}

/** The BES job input: a payload given as is, or a data file uploaded to blob storage first. */
export type BatchInput =
  | { kind: 'payload'; payload: Record<string, unknown> }
  | { kind: 'upload'; file: string; connectionString: string; container: string }

export interface ClassicBatchSettings {
  operation: 'classic-batch'
  service: ClassicService
  input: BatchInput
  /** Where to download the outputs (needs storage access through the result's SAS URLs). */
  outputDirectory?: string
  timeoutMinutes?: number
}

export type Settings =
  | TrainSettings
  | WaitRunSettings
  | CancelRunSettings
  | RegisterModelSettings
  | DeleteModelSettings
  | ListSettings
  | CreateComputeSettings
  | CreateWorkspaceSettings
  | ScoreSettings
  | ClassicScoreSettings
  | ClassicBatchSettings
