import type { Access } from './access.js'
import type { Endpoints } from './endpoints.js'
import { armError } from './errors.js'
import { json, type Reply, type RequestContext, type Route } from './http.js'
import { paginate } from './paging.js'
import type { Settings } from './settings.js'
import { workspaceArmId, type Compute, type EmulatorState, type Workspace, type WorkspaceLookup } from './state.js'

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

/** ARM for Microsoft.MachineLearningServices: reading the workspace and its computes. */
export function armRoutes(deps: ArmDeps): Route[] {
  const route = (method: string, pattern: string, handler: (ctx: RequestContext) => Reply | Promise<Reply>): Route => ({ method, pattern, service: 'arm', handler })
  return [
    route('GET', WS, ctx => {
      const ws = resolveArmWorkspace(deps, ctx, 'workspaces', 'Microsoft.MachineLearningServices/workspaces/read')
      return json(200, workspaceJson(ws, ctx.endpoints), armHeaders())
    }),
    route('GET', `${WS}/computes`, ctx => {
      const ws = resolveArmWorkspace(deps, ctx, 'workspaces/computes', 'Microsoft.MachineLearningServices/workspaces/computes/read')
      const page = paginate([...ws.computes.values()], ctx.query.get('$skiptoken'), deps.settings.pageSize, undefined, 'arm')
      const body: Record<string, unknown> = { value: page.items.map(c => computeJson(ws, c)) }
      if (page.next) body.nextLink = armNextLink(ctx, '$skiptoken', page.next)
      return json(200, body, armHeaders())
    }),
    route('GET', `${WS}/computes/{compute}`, ctx => {
      const ws = resolveArmWorkspace(deps, ctx, 'workspaces/computes', 'Microsoft.MachineLearningServices/workspaces/computes/read')
      const compute = ws.computes.get(ctx.params.compute.toLowerCase())
      if (!compute) throw computeNotFound(ws, ctx.params.compute)
      return json(200, computeJson(ws, compute), armHeaders())
    })
  ]
}

/** ARM's 404 for a compute the workspace does not have. */
export function computeNotFound(ws: Workspace, name: string): Error {
  return armError(
    404,
    'ResourceNotFound',
    `The Resource 'Microsoft.MachineLearningServices/workspaces/${ws.name}/computes/${name}' under resource group '${ws.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`
  )
}

/**
 * The checks every ARM call under a resource group makes, in ARM's order: token, api-version, subscription,
 * role, resource group. (A principal without a role gets 403 even for a resource group that does not exist.)
 * Returns the lookup, which may or may not have found the workspace `{ws}`.
 */
export function resolveArmScope(deps: ArmDeps, ctx: RequestContext, resourceType: string, action: string): Extract<WorkspaceLookup, { found: 'resourceGroup' | 'workspace' }> {
  const caller = deps.access.authenticate(ctx)
  checkApiVersion(ctx, resourceType, deps.state)
  const { sub, rg, ws } = ctx.params
  const lookup = deps.state.lookupWorkspace(sub, rg, ws)
  if (lookup.found === 'none') throw armError(404, 'SubscriptionNotFound', `The subscription '${sub}' could not be found.`)
  deps.access.authorize(ctx, caller, decodeURIComponent(ctx.path).replace(/\/+$/, ''), action)
  if (lookup.found === 'subscription') throw armError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`)
  return lookup
}

/** {@link resolveArmScope}, then a 404 unless the workspace exists. */
export function resolveArmWorkspace(deps: ArmDeps, ctx: RequestContext, resourceType: string, action: string): Workspace {
  const lookup = resolveArmScope(deps, ctx, resourceType, action)
  if (lookup.found === 'resourceGroup') {
    throw armError(
      404,
      'ResourceNotFound',
      `The Resource 'Microsoft.MachineLearningServices/workspaces/${ctx.params.ws}' under resource group '${ctx.params.rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`
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

/** Headers ARM adds to its answers (reads; writes report the write budget instead). */
export function armHeaders(write = false): Record<string, string> {
  return { 'Cache-Control': 'no-cache', [`x-ms-ratelimit-remaining-subscription-${write ? 'writes' : 'reads'}`]: write ? '1199' : '11999' }
}

/** The URL of the next page: this request with the skip token replaced. */
export function armNextLink(ctx: RequestContext, name: string, token: string): string {
  const url = new URL(ctx.path, ctx.baseUrl)
  for (const [k, v] of ctx.query) if (k !== name) url.searchParams.append(k, v)
  url.searchParams.set(name, token)
  return url.toString()
}

/** The Workspace resource as ARM returns it (no discoveryUrl until it is provisioned). */
export function workspaceJson(ws: Workspace, endpoints: Endpoints): Record<string, unknown> {
  const properties: Record<string, unknown> = {
    workspaceId: ws.workspaceId,
    description: ws.description,
    friendlyName: ws.friendlyName,
    creationTime: ws.creationTime,
    keyVault: ws.linked.keyVault,
    applicationInsights: ws.linked.applicationInsights,
    containerRegistry: ws.linked.containerRegistry,
    storageAccount: ws.linked.storageAccount,
    provisioningState: ws.provisioningState
  }
  if (ws.provisioningState === 'Succeeded') properties.discoveryUrl = `${endpoints.dataPlane}/discovery`
  return {
    id: workspaceArmId(ws),
    name: ws.name,
    type: 'Microsoft.MachineLearningServices/workspaces',
    location: ws.location,
    tags: ws.tags,
    sku: ws.sku,
    identity: { type: 'SystemAssigned', principalId: ws.identityPrincipalId, tenantId: ws.tenantId },
    properties
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
      provisioningErrors: c.provisioningErrors.length ? c.provisioningErrors.map(error => ({ error })) : null,
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
