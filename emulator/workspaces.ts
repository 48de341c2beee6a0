import { randomBytes } from 'node:crypto'
import { armHeaders, armNextLink, checkApiVersion, resolveArmScope, workspaceJson, type ArmDeps } from './arm.js'
import { armError } from './errors.js'
import { json, readBody, type Reply, type RequestContext, type Route } from './http.js'
import type { OperationFailure, OperationTracker } from './operations.js'
import { paginate } from './paging.js'
import { workspaceArmId, type ArmErrorInfo, type EmulatorState, type Workspace } from './state.js'

/** Regions Microsoft.MachineLearningServices/workspaces is offered in (ARM names, lower case, no spaces). */
export const ML_LOCATIONS = [
  'australiaeast',
  'brazilsouth',
  'canadacentral',
  'centralindia',
  'centralus',
  'eastasia',
  'eastus',
  'eastus2',
  'eastus2euap',
  'francecentral',
  'germanywestcentral',
  'japaneast',
  'japanwest',
  'koreacentral',
  'northcentralus',
  'northeurope',
  'norwayeast',
  'southafricanorth',
  'southcentralus',
  'southeastasia',
  'switzerlandnorth',
  'uaenorth',
  'uksouth',
  'westcentralus',
  'westeurope',
  'westus',
  'westus2'
] as const

/** The linked resources of a workspace and the resource type each must be. */
const LINKED = [
  { field: 'storageAccount', type: 'Microsoft.Storage/storageAccounts', required: true },
  { field: 'keyVault', type: 'Microsoft.KeyVault/vaults', required: true },
  { field: 'applicationInsights', type: 'Microsoft.Insights/components', required: true },
  { field: 'containerRegistry', type: 'Microsoft.ContainerRegistry/registries', required: false }
] as const

/** Workspace names as the resource provider accepts them. */
const WORKSPACE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$/
const ARM_BODY_LIMIT = 4 * 1024 * 1024
const WRITE = 'Microsoft.MachineLearningServices/workspaces/write'
const READ = 'Microsoft.MachineLearningServices/workspaces/read'

/** What the workspace routes need. */
export interface WorkspaceDeps extends ArmDeps {
  operations: OperationTracker
}

/** ARM: list workspaces (per subscription and per resource group) and create or update one (PUT, a long-running operation). */
export function workspaceRoutes(deps: WorkspaceDeps): Route[] {
  const route = (method: string, pattern: string, handler: (ctx: RequestContext) => Reply | Promise<Reply>): Route => ({ method, pattern, service: 'arm', handler })
  const PROVIDER = 'providers/Microsoft.MachineLearningServices/workspaces'
  return [
    route('GET', `/subscriptions/{sub}/${PROVIDER}`, ctx => {
      const caller = deps.access.authenticate(ctx)
      checkApiVersion(ctx, 'workspaces', deps.state)
      const subscription = deps.state.subscriptions.get(ctx.params.sub.toLowerCase())
      if (!subscription) throw armError(404, 'SubscriptionNotFound', `The subscription '${ctx.params.sub}' could not be found.`)
      const scope = `/subscriptions/${subscription.subscriptionId}`
      const objectId = caller.kind === 'principal' ? caller.objectId : ''
      if (!deps.state.hasRoleWithin(objectId, scope)) deps.access.authorize(ctx, caller, scope, READ)
      const all = [...subscription.resourceGroups.values()].flatMap(rg => [...rg.workspaces.values()])
      return workspacePage(deps, ctx, all.filter(ws => deps.state.hasRole(objectId, workspaceArmId(ws))))
    }),
    route('GET', `/subscriptions/{sub}/resourceGroups/{rg}/${PROVIDER}`, ctx => {
      const lookup = resolveArmScope(deps, ctx, 'workspaces', READ)
      return workspacePage(deps, ctx, [...lookup.resourceGroup.workspaces.values()])
    }),
    route('PUT', `/subscriptions/{sub}/resourceGroups/{rg}/${PROVIDER}/{ws}`, ctx => putWorkspace(deps, ctx))
  ]
}

function workspacePage(deps: WorkspaceDeps, ctx: RequestContext, workspaces: Workspace[]): Reply {
  const page = paginate(workspaces, ctx.query.get('$skiptoken'), deps.settings.pageSize, undefined, 'arm')
  const body: Record<string, unknown> = { value: page.items.map(ws => workspaceJson(ws, ctx.endpoints)) }
  if (page.next) body.nextLink = armNextLink(ctx, '$skiptoken', page.next)
  return json(200, body, armHeaders())
}

async function putWorkspace(deps: WorkspaceDeps, ctx: RequestContext): Promise<Reply> {
  const lookup = resolveArmScope(deps, ctx, 'workspaces', WRITE)
  const body = await readArmBody(ctx)
  const name = ctx.params.ws
  if (typeof body.location !== 'string' || body.location.trim() === '') throw armError(400, 'LocationRequired', 'The location property is required for this definition.')
  const location = body.location.replace(/\s+/g, '').toLowerCase()
  if (!(ML_LOCATIONS as readonly string[]).includes(location)) {
    throw armError(
      400,
      'LocationNotAvailableForResourceType',
      `The provided location '${body.location}' is not available for resource type 'Microsoft.MachineLearningServices/workspaces'. List of available regions for the resource type is '${ML_LOCATIONS.join(',')}'.`
    )
  }
  const properties = objectField(body, 'properties') ?? {}
  const existing = lookup.found === 'workspace' ? lookup.workspace : undefined
  if (existing && existing.provisioningState !== 'Failed') return updateWorkspace(existing, ctx, body, properties, location)

  if (!WORKSPACE_NAME.test(name)) {
    throw armError(
      400,
      'InvalidResourceName',
      `Resource name '${name}' is invalid: a workspace name has 3 to 33 characters (letters, digits, '-' and '_') and starts with a letter or digit.`
    )
  }
  const linked = checkLinkedResources(properties)
  const sku = checkSku(body.sku)
  checkIdentity(body.identity)
  const rg = lookup.resourceGroup
  const ws = deps.state.newWorkspace({
    subscriptionId: lookup.subscription.subscriptionId,
    resourceGroup: rg.name,
    name,
    tenantId: lookup.subscription.tenantId,
    location,
    friendlyName: optionalString(properties, 'friendlyName') ?? name,
    description: optionalString(properties, 'description') ?? '',
    sku,
    provisioningState: 'Creating',
    linked,
    storageAccountName: storageAccountName(deps.state, linked.storageAccount)
  })
  ws.tags = tags(body)
  rg.workspaces.set(name.toLowerCase(), ws)
  const op = deps.operations.start({
    subscriptionId: ws.subscriptionId,
    location,
    complete: () => {
      // Replaced or gone meanwhile: this operation no longer decides anything.
      if (rg.workspaces.get(name.toLowerCase()) !== ws) return null
      const failure = missingLinkedResource(deps.state, ws)
      ws.provisioningState = failure ? 'Failed' : 'Succeeded'
      return failure
    },
    result: c => json(200, workspaceJson(ws, c.endpoints), armHeaders())
  })
  return json(202, workspaceJson(ws, ctx.endpoints), { ...armHeaders(true), Location: deps.operations.resultUrl(ctx.baseUrl, op), 'Retry-After': '1' })
}

/** PUT on a workspace that exists: only friendlyName, description, tags and sku may change. */
function updateWorkspace(ws: Workspace, ctx: RequestContext, body: Record<string, unknown>, properties: Record<string, unknown>, location: string): Reply {
  if (location !== ws.location) {
    throw armError(
      400,
      'InvalidResourceLocation',
      `The resource '${ws.name}' already exists in location '${ws.location}' in resource group '${ws.resourceGroup}'. A resource with the same name cannot be created in location '${location}'. Please select a new resource name.`
    )
  }
  if (ws.provisioningState !== 'Succeeded') {
    throw armError(409, 'Conflict', `Workspace '${ws.name}' is being provisioned (provisioningState ${ws.provisioningState}); retry once that has finished.`)
  }
  for (const { field } of LINKED) {
    const given = properties[field]
    const current = ws.linked[field]
    if (given !== undefined && given !== null && (typeof given !== 'string' || given.toLowerCase() !== (current ?? '').toLowerCase())) {
      throw armError(400, 'BadRequest', `properties.${field} cannot be changed once the workspace has been created (it is '${current ?? 'none'}').`)
    }
  }
  const friendlyName = optionalString(properties, 'friendlyName')
  const description = optionalString(properties, 'description')
  if (friendlyName !== undefined) ws.friendlyName = friendlyName
  if (description !== undefined) ws.description = description
  if (body.tags !== undefined) ws.tags = tags(body)
  if (body.sku !== undefined && body.sku !== null) ws.sku = checkSku(body.sku)
  return json(200, workspaceJson(ws, ctx.endpoints), armHeaders(true))
}

/** Checks the linked resource ids: the required ones present, each a well-formed ARM id of the right type. */
function checkLinkedResources(properties: Record<string, unknown>): Workspace['linked'] {
  const out: Record<string, string | null> = {}
  for (const { field, type, required } of LINKED) {
    const value = properties[field]
    if (value === undefined || value === null || value === '') {
      if (required) {
        throw armError(
          400,
          'BadRequest',
          `properties.${field} is required: the ARM resource id of a ${type} resource, e.g. /subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/${type}/{name}.`
        )
      }
      out[field] = null
      continue
    }
    if (typeof value !== 'string') throw armError(400, 'InvalidRequestContent', `properties.${field} must be a string (an ARM resource id).`)
    const id = parseArmId(value)
    if (!id || id.type.toLowerCase() !== type.toLowerCase()) {
      throw armError(
        400,
        'BadRequest',
        `properties.${field} '${value}' is not a valid ARM resource id of type ${type}: expected /subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/${type}/{name}.`
      )
    }
    out[field] = value
  }
  return out as Workspace['linked']
}

/**
 * The first linked resource whose subscription or resource group does not exist, as the failure of the
 * create operation. (The emulator models resource groups, not storage accounts or vaults themselves.)
 */
function missingLinkedResource(state: EmulatorState, ws: Workspace): OperationFailure | null {
  const details: ArmErrorInfo['details'] = []
  let first: string | undefined
  for (const { field } of LINKED) {
    const value = ws.linked[field]
    const id = value ? parseArmId(value) : null
    if (!value || !id) continue
    const lookup = state.lookupWorkspace(id.subscription, id.resourceGroup)
    if (lookup.found === 'resourceGroup') continue
    const reason = lookup.found === 'none' ? `subscription '${id.subscription}' could not be found` : `resource group '${id.resourceGroup}' could not be found`
    first ??= `The linked resource '${value}' (properties.${field}) was not found: ${reason}.`
    details.push(
      lookup.found === 'none'
        ? { code: 'SubscriptionNotFound', message: `The subscription '${id.subscription}' could not be found.` }
        : { code: 'ResourceGroupNotFound', message: `Resource group '${id.resourceGroup}' could not be found.` }
    )
  }
  if (!first) return null
  return { status: 404, error: { code: 'LinkedResourceNotFound', message: `Creating workspace '${ws.name}' failed. ${first}`, details } }
}

interface ArmId {
  subscription: string
  resourceGroup: string
  type: string
  name: string
}

/** `/subscriptions/{sub}/resourceGroups/{rg}/providers/{namespace}/{type}/{name}` (literals in any case). */
function parseArmId(value: string): ArmId | null {
  const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/([^/]+)\/([^/]+)\/([^/]+)$/i.exec(value)
  if (!m) return null
  return { subscription: m[1], resourceGroup: m[2], type: `${m[3]}/${m[4]}`, name: m[5] }
}

function checkSku(raw: unknown): { name: string; tier: string } {
  if (raw === undefined || raw === null) return { name: 'Basic', tier: 'Basic' }
  const sku = raw as Record<string, unknown>
  const name = typeof sku === 'object' && !Array.isArray(sku) ? sku.name : undefined
  const known = ['Basic', 'Enterprise'].find(k => typeof name === 'string' && k.toLowerCase() === name.toLowerCase())
  if (!known) throw armError(400, 'BadRequest', `sku.name '${String(name)}' is not valid: use 'Basic' or 'Enterprise'.`)
  return { name: known, tier: known }
}

function checkIdentity(raw: unknown): void {
  if (raw === undefined || raw === null) return
  const type = typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>).type : undefined
  if (typeof type !== 'string' || type.toLowerCase() !== 'systemassigned') {
    throw armError(400, 'BadRequest', `identity.type '${String(type)}' is not supported: a workspace identity is 'SystemAssigned'.`)
  }
}

/** The blob route finds workspaces by account name, so each workspace needs its own. */
function storageAccountName(state: EmulatorState, storageAccountId: string): string {
  const name = storageAccountId.split('/').pop()!.toLowerCase()
  const taken = (n: string): boolean => [...state.workspaces()].some(w => w.storageAccountName === n)
  return taken(name) ? `${name.slice(0, 16)}${randomBytes(4).toString('hex')}` : name
}

function tags(body: Record<string, unknown>): Record<string, string> {
  const value = body.tags
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value) || Object.values(value).some(v => typeof v !== 'string')) {
    throw armError(400, 'InvalidRequestContent', "'tags' must be an object of strings.")
  }
  return { ...(value as Record<string, string>) }
}

function optionalString(obj: Record<string, unknown>, field: string): string | undefined {
  const value = obj[field]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw armError(400, 'InvalidRequestContent', `properties.${field} must be a string.`)
  return value
}

function objectField(obj: Record<string, unknown>, field: string): Record<string, unknown> | undefined {
  const value = obj[field]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'object' || Array.isArray(value)) throw armError(400, 'InvalidRequestContent', `'${field}' must be an object.`)
  return value as Record<string, unknown>
}

/** An ARM request body: a JSON object of at most 4 MB, else ARM's InvalidRequestContent (or 413). */
export async function readArmBody(ctx: RequestContext): Promise<Record<string, unknown>> {
  const raw = (await readBody(ctx.req, ARM_BODY_LIMIT)).toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch (err) {
    throw armError(400, 'InvalidRequestContent', `The request content was invalid and could not be deserialized: '${(err as Error).message}'.`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw armError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized: the body must be a JSON object.')
  }
  return value as Record<string, unknown>
}
