import type { Access } from './access.js'
import { armError } from './errors.js'
import { json, type Reply, type RequestContext, type Route } from './http.js'
import { paginate } from './paging.js'
import type { Settings } from './settings.js'
import { workspaceArmId, type Compute, type EmulatorState, type Workspace } from './state.js'

/** api-versions of Microsoft.MachineLearningServices the emulator answers (all GA versions it has seen). */
export const ML_API_VERSIONS = [
  '2019-11-01',
  '2020-01-01',
  '2020-03-01',
  '2020-04-01',
  '2020-06-01',
  '2020-08-01',
  '2021-01-01',
  '2021-04-01',
  '2021-07-01',
  '2022-05-01',
  '2022-10-01',
  '2023-04-01',
  '2023-10-01',
  '2024-04-01',
  '2024-10-01'
] as const

/** What the ARM routes need. */
export interface ArmDeps {
  state: EmulatorState
  access: Access
  settings: Settings
}

const WS = '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}'

/** ARM for Microsoft.MachineLearningServices: the workspace and its computes. */
export function armRoutes(deps: ArmDeps): Route[] {
  const route = (method: string, pattern: string, handler: (ctx: RequestContext) => Reply | Promise<Reply>): Route => ({ method, pattern, service: 'arm', handler })
  return [
    route('GET', WS, ctx => {
      const ws = resolveWorkspace(deps, ctx, 'workspaces', 'Microsoft.MachineLearningServices/workspaces/read')
      return json(200, workspaceJson(ws, ctx.baseUrl), armHeaders())
    }),
    route('GET', `${WS}/computes`, ctx => {
      const ws = resolveWorkspace(deps, ctx, 'workspaces/computes', 'Microsoft.MachineLearningServices/workspaces/computes/read')
      const page = paginate([...ws.computes.values()], ctx.query.get('$skiptoken'), deps.settings.pageSize, undefined, 'arm')
      const body: Record<string, unknown> = { value: page.items.map(c => computeJson(ws, c)) }
      if (page.next) body.nextLink = nextLink(ctx, '$skiptoken', page.next)
      return json(200, body, armHeaders())
    }),
    route('GET', `${WS}/computes/{compute}`, ctx => {
      const ws = resolveWorkspace(deps, ctx, 'workspaces/computes', 'Microsoft.MachineLearningServices/workspaces/computes/read')
      const compute = ws.computes.get(ctx.params.compute.toLowerCase())
      if (!compute) {
        throw armError(
          404,
          'ResourceNotFound',
          `The Resource 'Microsoft.MachineLearningServices/workspaces/${ws.name}/computes/${ctx.params.compute}' under resource group '${ws.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`
        )
      }
      return json(200, computeJson(ws, compute), armHeaders())
    })
  ]
}

/**
 * The checks every ARM call makes, in ARM's order: token, api-version, subscription, role, resource group,
 * workspace. (A principal without a role gets 403 even for a resource group that does not exist.)
 */
function resolveWorkspace(deps: ArmDeps, ctx: RequestContext, resourceType: string, action: string): Workspace {
  const caller = deps.access.authenticate(ctx)
  checkApiVersion(ctx, resourceType, deps.state)
  const { sub, rg, ws } = ctx.params
  const lookup = deps.state.lookupWorkspace(sub, rg, ws)
  if (lookup.found === 'none') throw armError(404, 'SubscriptionNotFound', `The subscription '${sub}' could not be found.`)
  deps.access.authorize(ctx, caller, decodeURIComponent(ctx.path).replace(/\/+$/, ''), action)
  if (lookup.found === 'subscription') throw armError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`)
  if (lookup.found === 'resourceGroup') {
    throw armError(
      404,
      'ResourceNotFound',
      `The Resource 'Microsoft.MachineLearningServices/workspaces/${ws}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`
    )
  }
  return lookup.workspace
}

/** ARM's api-version rule: required on every request, and one the resource type knows. */
export function checkApiVersion(ctx: RequestContext, resourceType: string, state: EmulatorState): void {
  const version = ctx.query.get('api-version')
  if (!version) throw armError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.')
  if (!(ML_API_VERSIONS as readonly string[]).includes(version)) {
    const locations = new Set([...state.workspaces()].map(w => w.location))
    throw armError(
      400,
      'NoRegisteredProviderFound',
      `No registered resource provider found for location '${[...locations][0] ?? 'eastus'}' and API version '${version}' for type '${resourceType}'. The supported api-versions are '${ML_API_VERSIONS.join(', ')}'. The supported locations are '${[...locations].join(', ')}'.`
    )
  }
}

function armHeaders(): Record<string, string> {
  return { 'Cache-Control': 'no-cache', 'x-ms-ratelimit-remaining-subscription-reads': '11999' }
}

function nextLink(ctx: RequestContext, name: string, token: string): string {
  const url = new URL(ctx.path, ctx.baseUrl)
  for (const [k, v] of ctx.query) if (k !== name) url.searchParams.append(k, v)
  url.searchParams.set(name, token)
  return url.toString()
}

/** The Workspace resource as ARM returns it. */
export function workspaceJson(ws: Workspace, baseUrl: string): Record<string, unknown> {
  const rgId = `/subscriptions/${ws.subscriptionId}/resourceGroups/${ws.resourceGroup}/providers`
  return {
    id: workspaceArmId(ws),
    name: ws.name,
    type: 'Microsoft.MachineLearningServices/workspaces',
    location: ws.location,
    tags: {},
    sku: ws.sku,
    identity: { type: 'SystemAssigned', principalId: ws.identityPrincipalId, tenantId: ws.tenantId },
    properties: {
      workspaceId: ws.workspaceId,
      description: ws.description,
      friendlyName: ws.friendlyName,
      creationTime: ws.creationTime,
      keyVault: `${rgId}/Microsoft.KeyVault/vaults/${ws.storageAccountName}kv`,
      applicationInsights: `${rgId}/microsoft.insights/components/${ws.storageAccountName}ai`,
      containerRegistry: `${rgId}/Microsoft.ContainerRegistry/registries/${ws.storageAccountName}acr`,
      storageAccount: `${rgId}/Microsoft.Storage/storageAccounts/${ws.storageAccountName}`,
      discoveryUrl: `${baseUrl}/discovery`,
      provisioningState: 'Succeeded'
    }
  }
}

/** A compute as ARM returns it (an AmlCompute cluster). */
export function computeJson(ws: Workspace, c: Compute): Record<string, unknown> {
  return {
    id: `${workspaceArmId(ws)}/computes/${c.name}`,
    name: c.name,
    type: 'Microsoft.MachineLearningServices/workspaces/computes',
    location: ws.location,
    properties: {
      computeType: c.computeType,
      computeLocation: ws.location,
      provisioningState: c.provisioningState,
      description: c.description,
      createdOn: c.createdOn,
      modifiedOn: c.modifiedOn,
      provisioningErrors: null,
      isAttachedCompute: false,
      properties: {
        vmSize: c.vmSize,
        vmPriority: c.vmPriority,
        scaleSettings: { maxNodeCount: c.maxNodeCount, minNodeCount: c.minNodeCount, nodeIdleTimeBeforeScaleDown: c.idleTimeBeforeScaleDown },
        remoteLoginPortPublicAccess: 'NotSpecified',
        allocationState: 'Steady',
        allocationStateTransitionTime: c.modifiedOn,
        errors: null,
        currentNodeCount: 0,
        targetNodeCount: 0,
        nodeStateCounts: {
          idleNodeCount: 0,
          runningNodeCount: 0,
          preparingNodeCount: 0,
          unusableNodeCount: 0,
          leavingNodeCount: 0,
          preemptedNodeCount: 0
        }
      }
    }
  }
}
