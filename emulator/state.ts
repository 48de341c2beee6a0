import { randomUUID } from 'node:crypto'
import { DEMO } from './identity.js'

/**
 * A federated identity credential of an app registration: the app accepts, instead of a secret, an ID token
 * from `issuer` whose `sub` is `subject` and whose `aud` is one of `audiences` (workload identity federation).
 */
export interface FederatedCredential {
  name: string
  issuer: string
  subject: string
  audiences: string[]
}

/** An app registration (service principal) of a tenant. */
export interface Principal {
  clientId: string
  objectId: string
  displayName: string
  secrets: string[]
  federatedCredentials: FederatedCredential[]
}

/** An Azure AD tenant and its app registrations (keyed by lower-case client id). */
export interface Tenant {
  tenantId: string
  principals: Map<string, Principal>
}

/** A role of a principal over a scope (an ARM id prefix). */
export interface RoleAssignment {
  principalObjectId: string
  roleName: string
  scope: string
}

/** The statuses a run reports, in Azure ML's vocabulary. */
export type RunStatus =
  | 'NotStarted'
  | 'Starting'
  | 'Provisioning'
  | 'Preparing'
  | 'Queued'
  | 'Running'
  | 'Finalizing'
  | 'CancelRequested'
  | 'Completed'
  | 'Failed'
  | 'Canceled'
  | 'NotResponding'

/** Statuses a run never leaves. */
export const TERMINAL_STATUSES: readonly RunStatus[] = ['Completed', 'Failed', 'Canceled']

/** ARM's provisioning states (workspaces and computes). */
export type ProvisioningState = 'Succeeded' | 'Creating' | 'Updating' | 'Deleting' | 'Failed'

/** An error as ARM reports it in an operation status or a resource's provisioningErrors. */
export interface ArmErrorInfo {
  code: string
  message: string
  details?: Array<{ code: string; message: string }>
}

/** A compute target of a workspace. */
export interface Compute {
  name: string
  computeType: 'AmlCompute'
  vmSize: string
  vmPriority: 'Dedicated' | 'LowPriority'
  minNodeCount: number
  maxNodeCount: number
  idleTimeBeforeScaleDown: string
  description: string
  provisioningState: ProvisioningState
  /** Why provisioning failed (ARM's provisioningErrors); empty otherwise. */
  provisioningErrors: ArmErrorInfo[]
  createdOn: string
  modifiedOn: string
}

/** An asset of model management: a named set of artifact prefixes (what a model's `aml://asset/{id}` url names). */
export interface AssetRecord {
  id: string
  name: string
  description: string | null
  artifacts: Array<{ prefix?: string; id?: string }>
  kvTags: Record<string, string>
  properties: Record<string, string>
  runid: string | null
  meta: Record<string, string>
  createdTime: string
  /** Creation order, to sort items created within the same millisecond. */
  seq: number
}

/** A registered model version (`{name}:{version}`). */
export interface ModelRecord {
  name: string
  version: number
  url: string
  mimeType: string
  description: string | null
  framework: string
  frameworkVersion: string | null
  datasets: Array<{ name?: string; id?: string }>
  unpack: boolean
  parentModelId: string | null
  runId: string | null
  experimentName: string | null
  kvTags: Record<string, string>
  properties: Record<string, string>
  createdTime: string
  modifiedTime: string
  seq: number
}

/** A metric row as run history stores it (one per `run.log` call). */
export interface MetricRecord {
  metricId: string
  runId: string
  dataContainerId: string
  metricType: string
  createdUtc: string
  name: string
  description: string
  label: string | null
  numCells: number
  dataLocation: string | null
  cells: Array<Record<string, string | number | boolean | null>>
  schema: { numProperties: number; properties: Array<{ propertyId: string; name: string; type: string }> }
}

/** An experiment of a workspace. */
export interface Experiment {
  experimentId: string
  name: string
  description: string | null
  createdUtc: string
  tags: Record<string, string>
  latestCreatedRunCreatedUtc: string | null
  latestCreatedRunId: string | null
}

/** The error a failed or canceled run carries. */
export interface RunError {
  code: string
  message: string
}

/** A run, as run history keeps it. The process behind it is the runner's business. */
export interface RunRecord {
  runId: string
  runNumber: number
  experiment: Experiment
  workspace: Workspace
  status: RunStatus
  createdUtc: string
  startTimeUtc: string | null
  endTimeUtc: string | null
  createdBy: { userObjectId: string; userTenantId: string; userName: string }
  error: RunError | null
  warnings: Array<{ source: string; message: string }>
  revision: number
  name: string | null
  description: string | null
  runType: string
  scriptName: string | null
  target: string | null
  dataContainerId: string
  properties: Record<string, string>
  tags: Record<string, string>
  runDefinition: Record<string, unknown> | null
  hidden: boolean
  /** 'startrun' runs are driven by the runner; 'history' runs (created by PATCH) by their client. */
  origin: 'startrun' | 'history'
  metrics: MetricRecord[]
  /** A status reported instead of the real one until `until` (epoch ms); see the control API. */
  hold: { status: RunStatus; until: number } | null
  statusHistory: Array<{ status: RunStatus; time: string }>
}

/** A workspace with everything inside it. Names are looked up case-insensitively, as Azure does. */
export interface Workspace {
  subscriptionId: string
  resourceGroup: string
  name: string
  workspaceId: string
  tenantId: string
  /** Object id of the workspace's system-assigned identity. */
  identityPrincipalId: string
  location: string
  creationTime: string
  friendlyName: string
  description: string
  sku: { name: string; tier: string }
  /** Only a Succeeded workspace serves the data plane; Creating and Failed ones exist on ARM alone. */
  provisioningState: ProvisioningState
  tags: Record<string, string>
  /** ARM ids of the linked resources, immutable after creation. */
  linked: { storageAccount: string; keyVault: string; applicationInsights: string; containerRegistry: string | null }
  /** The storage account name the blob route answers for (unique per emulator). */
  storageAccountName: string
  computes: Map<string, Compute>
  experiments: Map<string, Experiment>
  runs: Map<string, RunRecord>
  nextRunNumber: number
  /** Model management: assets by id, models by `{name}:{version}`, the last version given to each name. */
  assets: Map<string, AssetRecord>
  models: Map<string, ModelRecord>
  modelVersions: Map<string, number>
  /** Next creation sequence number of an asset or model. */
  nextSeq: number
}

/** A resource group and its workspaces (keyed by lower-case name). */
export interface ResourceGroup {
  name: string
  location: string
  workspaces: Map<string, Workspace>
}

/** Resource groups the demo subscription starts with besides the workspace's own (so that lists page). */
export const EXTRA_RESOURCE_GROUPS: ReadonlyArray<{ name: string; location: string }> = [
  { name: 'ml-dev-rg', location: 'eastus' },
  { name: 'ml-prod-rg', location: 'westeurope' },
  { name: 'ml-shared-rg', location: 'eastus2' },
  { name: 'networking-rg', location: 'eastus' }
]

/** A subscription of a tenant and its resource groups (keyed by lower-case name). */
export interface Subscription {
  subscriptionId: string
  tenantId: string
  displayName: string
  resourceGroups: Map<string, ResourceGroup>
}

/** Where a (subscription, resource group, workspace) lookup stopped. */
export type WorkspaceLookup =
  | { found: 'none' }
  | { found: 'subscription'; subscription: Subscription }
  | { found: 'resourceGroup'; subscription: Subscription; resourceGroup: ResourceGroup }
  | { found: 'workspace'; subscription: Subscription; resourceGroup: ResourceGroup; workspace: Workspace }

/** The ARM id of a workspace. */
export function workspaceArmId(ws: Workspace): string {
  return `/subscriptions/${ws.subscriptionId}/resourceGroups/${ws.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${ws.name}`
}

/**
 * Everything the local Azure ML service knows, in memory: the directory (tenants, principals, role
 * assignments) and the ARM tree (subscriptions → resource groups → workspaces → computes, experiments, runs,
 * assets and models). Creating workspaces, computes and models means adding entries to these maps.
 */
export class EmulatorState {
  readonly tenants = new Map<string, Tenant>()
  readonly subscriptions = new Map<string, Subscription>()
  readonly roleAssignments: RoleAssignment[] = []

  /** Region of the demo resource group and workspace (the emulated cloud's). */
  readonly location: string

  /**
   * Seeds the demo directory and workspace; `computes` names the workspace's AmlCompute clusters, `location`
   * is the demo workspace's region.
   */
  constructor(options: { computes?: readonly string[]; location?: string } = {}, now = new Date()) {
    this.location = options.location ?? DEMO.location
    this.seedDemo(options.computes ?? [DEMO.compute], now.toISOString())
  }

  /** The tenant with this id, if any. */
  tenant(tenantId: string): Tenant | undefined {
    return this.tenants.get(tenantId.toLowerCase())
  }

  /** Walks subscription → resource group → workspace and says how far it got. */
  lookupWorkspace(subscriptionId: string, resourceGroup: string, workspaceName?: string): WorkspaceLookup {
    const subscription = this.subscriptions.get(subscriptionId.toLowerCase())
    if (!subscription) return { found: 'none' }
    const rg = subscription.resourceGroups.get(resourceGroup.toLowerCase())
    if (!rg) return { found: 'subscription', subscription }
    const workspace = workspaceName === undefined ? undefined : rg.workspaces.get(workspaceName.toLowerCase())
    if (!workspace) return { found: 'resourceGroup', subscription, resourceGroup: rg }
    return { found: 'workspace', subscription, resourceGroup: rg, workspace }
  }

  /** Whether the principal holds any role at this scope or above it. */
  hasRole(principalObjectId: string, scope: string): boolean {
    const target = scope.toLowerCase().replace(/\/+$/, '')
    return this.roleAssignments.some(a => {
      if (a.principalObjectId !== principalObjectId) return false
      const s = a.scope.toLowerCase()
      return target === s || target.startsWith(`${s}/`)
    })
  }

  /** Whether the principal holds any role at this scope, above it or below it (so it may list inside it). */
  hasRoleWithin(principalObjectId: string, scope: string): boolean {
    const target = scope.toLowerCase().replace(/\/+$/, '')
    return (
      this.hasRole(principalObjectId, scope) ||
      this.roleAssignments.some(a => a.principalObjectId === principalObjectId && a.scope.toLowerCase().startsWith(`${target}/`))
    )
  }

  /** Every workspace, for lookups by run id or workspace id (studio page, blob route). */
  *workspaces(): Iterable<Workspace> {
    for (const sub of this.subscriptions.values()) {
      for (const rg of sub.resourceGroups.values()) yield* rg.workspaces.values()
    }
  }

  /** A new, empty workspace (not yet added to a resource group). */
  newWorkspace(init: {
    subscriptionId: string
    resourceGroup: string
    name: string
    tenantId: string
    location: string
    friendlyName: string
    description: string
    sku: { name: string; tier: string }
    provisioningState: ProvisioningState
    linked: Workspace['linked']
    storageAccountName: string
    workspaceId?: string
    identityPrincipalId?: string
    creationTime?: string
  }): Workspace {
    return {
      ...init,
      workspaceId: init.workspaceId ?? randomUUID(),
      identityPrincipalId: init.identityPrincipalId ?? randomUUID(),
      creationTime: init.creationTime ?? new Date().toISOString(),
      tags: {},
      computes: new Map(),
      experiments: new Map(),
      runs: new Map(),
      nextRunNumber: 1,
      assets: new Map(),
      models: new Map(),
      modelVersions: new Map(),
      nextSeq: 1
    }
  }

  /** The run with this id in any workspace. */
  findRun(runId: string): RunRecord | undefined {
    for (const ws of this.workspaces()) {
      const run = ws.runs.get(runId)
      if (run) return run
    }
    return undefined
  }

  private seedDemo(computes: readonly string[], now: string): void {
    const principals = new Map<string, Principal>()
    principals.set(DEMO.clientId, { clientId: DEMO.clientId, objectId: DEMO.objectId, displayName: 'azureml-demo-sp', secrets: [DEMO.clientSecret], federatedCredentials: [] })
    principals.set(DEMO.noRole.clientId, {
      clientId: DEMO.noRole.clientId,
      objectId: DEMO.noRole.objectId,
      displayName: 'azureml-demo-no-role-sp',
      secrets: [DEMO.noRole.clientSecret],
      federatedCredentials: []
    })
    this.tenants.set(DEMO.tenantId, { tenantId: DEMO.tenantId, principals })

    const rgId = `/subscriptions/${DEMO.subscriptionId}/resourceGroups/${DEMO.resourceGroup}/providers`
    const workspace = this.newWorkspace({
      subscriptionId: DEMO.subscriptionId,
      resourceGroup: DEMO.resourceGroup,
      name: DEMO.workspaceName,
      workspaceId: DEMO.workspaceId,
      tenantId: DEMO.tenantId,
      identityPrincipalId: '88888888-8888-4888-8888-888888888888',
      location: this.location,
      creationTime: now,
      friendlyName: DEMO.workspaceName,
      description: 'Workspace of the local Azure ML service',
      sku: { name: 'Basic', tier: 'Basic' },
      provisioningState: 'Succeeded',
      storageAccountName: 'localwsstorage',
      linked: {
        storageAccount: `${rgId}/Microsoft.Storage/storageAccounts/localwsstorage`,
        keyVault: `${rgId}/Microsoft.KeyVault/vaults/localwsstoragekv`,
        applicationInsights: `${rgId}/microsoft.insights/components/localwsstorageai`,
        containerRegistry: `${rgId}/Microsoft.ContainerRegistry/registries/localwsstorageacr`
      }
    })
    for (const name of computes) {
      workspace.computes.set(name.toLowerCase(), {
        name,
        computeType: 'AmlCompute',
        vmSize: DEMO.computeVmSize,
        vmPriority: 'Dedicated',
        minNodeCount: 0,
        maxNodeCount: 4,
        idleTimeBeforeScaleDown: 'PT120S',
        description: 'CPU cluster of the local Azure ML service (runs execute on this machine)',
        provisioningState: 'Succeeded',
        provisioningErrors: [],
        createdOn: now,
        modifiedOn: now
      })
    }
    const rg: ResourceGroup = { name: DEMO.resourceGroup, location: this.location, workspaces: new Map([[DEMO.workspaceName.toLowerCase(), workspace]]) }
    const resourceGroups = new Map([[DEMO.resourceGroup.toLowerCase(), rg]])
    for (const extra of EXTRA_RESOURCE_GROUPS) resourceGroups.set(extra.name.toLowerCase(), { ...extra, workspaces: new Map() })
    this.subscriptions.set(DEMO.subscriptionId, {
      subscriptionId: DEMO.subscriptionId,
      tenantId: DEMO.tenantId,
      displayName: 'Local Azure ML subscription',
      resourceGroups
    })
    // Subscription scope, so that an unknown resource group is a 404 for this principal rather than a 403.
    this.roleAssignments.push({ principalObjectId: DEMO.objectId, roleName: 'Contributor', scope: `/subscriptions/${DEMO.subscriptionId}` })
  }
}
