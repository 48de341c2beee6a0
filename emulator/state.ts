import { DEMO } from './identity.js'

/** An app registration (service principal) of a tenant. */
export interface Principal {
  clientId: string
  objectId: string
  displayName: string
  secrets: string[]
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
  provisioningState: 'Succeeded' | 'Creating' | 'Deleting' | 'Failed'
  createdOn: string
  modifiedOn: string
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
  storageAccountName: string
  computes: Map<string, Compute>
  experiments: Map<string, Experiment>
  runs: Map<string, RunRecord>
  nextRunNumber: number
}

/** A resource group and its workspaces (keyed by lower-case name). */
export interface ResourceGroup {
  name: string
  location: string
  workspaces: Map<string, Workspace>
}

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
 * assignments) and the ARM tree (subscriptions → resource groups → workspaces → computes, experiments, runs).
 * Creating resource groups, workspaces, computes and models later means adding entries to these maps.
 */
export class EmulatorState {
  readonly tenants = new Map<string, Tenant>()
  readonly subscriptions = new Map<string, Subscription>()
  readonly roleAssignments: RoleAssignment[] = []

  /** Seeds the demo directory and workspace; `computes` names the workspace's AmlCompute clusters. */
  constructor(computes: readonly string[] = [DEMO.compute], now = new Date()) {
    this.seedDemo(computes, now.toISOString())
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

  /** Every workspace, for lookups by run id or workspace id (studio page, blob route). */
  *workspaces(): Iterable<Workspace> {
    for (const sub of this.subscriptions.values()) {
      for (const rg of sub.resourceGroups.values()) yield* rg.workspaces.values()
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
    principals.set(DEMO.clientId, { clientId: DEMO.clientId, objectId: DEMO.objectId, displayName: 'azureml-demo-sp', secrets: [DEMO.clientSecret] })
    principals.set(DEMO.noRole.clientId, {
      clientId: DEMO.noRole.clientId,
      objectId: DEMO.noRole.objectId,
      displayName: 'azureml-demo-no-role-sp',
      secrets: [DEMO.noRole.clientSecret]
    })
    this.tenants.set(DEMO.tenantId, { tenantId: DEMO.tenantId, principals })

    const workspace: Workspace = {
      subscriptionId: DEMO.subscriptionId,
      resourceGroup: DEMO.resourceGroup,
      name: DEMO.workspaceName,
      workspaceId: DEMO.workspaceId,
      tenantId: DEMO.tenantId,
      identityPrincipalId: '88888888-8888-4888-8888-888888888888',
      location: DEMO.location,
      creationTime: now,
      friendlyName: DEMO.workspaceName,
      description: 'Workspace of the local Azure ML service',
      sku: { name: 'Basic', tier: 'Basic' },
      storageAccountName: 'localwsstorage',
      computes: new Map(),
      experiments: new Map(),
      runs: new Map(),
      nextRunNumber: 1
    }
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
        createdOn: now,
        modifiedOn: now
      })
    }
    const rg: ResourceGroup = { name: DEMO.resourceGroup, location: DEMO.location, workspaces: new Map([[DEMO.workspaceName.toLowerCase(), workspace]]) }
    this.subscriptions.set(DEMO.subscriptionId, {
      subscriptionId: DEMO.subscriptionId,
      tenantId: DEMO.tenantId,
      displayName: 'Local Azure ML subscription',
      resourceGroups: new Map([[DEMO.resourceGroup.toLowerCase(), rg]])
    })
    // Subscription scope, so that an unknown resource group is a 404 for this principal rather than a 403.
    this.roleAssignments.push({ principalObjectId: DEMO.objectId, roleName: 'Contributor', scope: `/subscriptions/${DEMO.subscriptionId}` })
  }
}
