import { armHeaders, computeJson, resolveArmWorkspace, type ArmDeps } from './arm.js'
import { armError } from './errors.js'
import { json, type Reply, type RequestContext, type Route } from './http.js'
import type { OperationFailure, OperationTracker } from './operations.js'
import type { Compute, EmulatorState, Workspace } from './state.js'
import { readArmBody } from './workspaces.js'

/** VM sizes AmlCompute offers in the emulator, with their vCPUs (for the core quota). Matched case-insensitively. */
export const VM_SIZES: Readonly<Record<string, number>> = {
  STANDARD_D1_V2: 1,
  STANDARD_D2_V2: 2,
  STANDARD_D3_V2: 4,
  STANDARD_D4_V2: 8,
  STANDARD_D11_V2: 2,
  STANDARD_D12_V2: 4,
  STANDARD_D13_V2: 8,
  STANDARD_DS1_V2: 1,
  STANDARD_DS2_V2: 2,
  STANDARD_DS3_V2: 4,
  STANDARD_DS4_V2: 8,
  STANDARD_DS5_V2: 16,
  STANDARD_DS11_V2: 2,
  STANDARD_DS12_V2: 4,
  STANDARD_DS13_V2: 8,
  STANDARD_F2S_V2: 2,
  STANDARD_F4S_V2: 4,
  STANDARD_F8S_V2: 8,
  STANDARD_F16S_V2: 16,
  STANDARD_E4S_V3: 4,
  STANDARD_E8S_V3: 8,
  STANDARD_NC6: 6,
  STANDARD_NC12: 12,
  STANDARD_NC24: 24,
  STANDARD_NC6S_V3: 6,
  STANDARD_NC12S_V3: 12,
  STANDARD_NC24S_V3: 24,
  STANDARD_NV6: 6
}

/** vCPUs a subscription may have in AmlCompute clusters per region and priority (maxNodeCount × cores of the size). */
export const CORE_QUOTA = 100

/** Compute names as Azure ML accepts them. */
const COMPUTE_NAME = /^[a-zA-Z][a-zA-Z0-9-]{1,15}$/
const COMPUTE_TYPES = ['AKS', 'AmlCompute', 'AmlInstance', 'ComputeInstance', 'VirtualMachine', 'HDInsight', 'DataFactory', 'Databricks', 'DataLakeAnalytics']
const DURATION = /^P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/
const WRITE = 'Microsoft.MachineLearningServices/workspaces/computes/write'
const DELETE = 'Microsoft.MachineLearningServices/workspaces/computes/delete'

/** What the compute routes need. */
export interface ComputeDeps extends ArmDeps {
  operations: OperationTracker
}

/** ARM: create or update an AmlCompute cluster (PUT) and delete a compute, both long-running operations. */
export function computeRoutes(deps: ComputeDeps): Route[] {
  const C = '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}/computes/{compute}'
  const route = (method: string, handler: (ctx: RequestContext) => Reply | Promise<Reply>): Route => ({ method, pattern: C, service: 'arm', handler })
  return [route('PUT', ctx => putCompute(deps, ctx)), route('DELETE', ctx => deleteCompute(deps, ctx))]
}

/** The settings a PUT asks for, validated. */
interface ComputeSpec {
  vmSize: string
  vmPriority: 'Dedicated' | 'LowPriority'
  minNodeCount: number
  maxNodeCount: number
  idleTimeBeforeScaleDown: string
  description: string | undefined
}

async function putCompute(deps: ComputeDeps, ctx: RequestContext): Promise<Reply> {
  const ws = resolveArmWorkspace(deps, ctx, 'workspaces/computes', WRITE)
  const name = ctx.params.compute
  const body = await readArmBody(ctx)
  if (ws.provisioningState !== 'Succeeded') {
    throw armError(409, 'Conflict', `Workspace '${ws.name}' is not ready for computes: its provisioning state is ${ws.provisioningState}.`)
  }
  if (!COMPUTE_NAME.test(name)) {
    throw armError(
      400,
      'BadRequest',
      `Compute name '${name}' is invalid: it must be 2 to 16 characters, letters, digits and '-', starting with a letter (^[a-zA-Z][a-zA-Z0-9-]{1,15}$).`
    )
  }
  const spec = checkSpec(ws, body)
  const existing = ws.computes.get(name.toLowerCase())
  if (existing && existing.provisioningState !== 'Failed') return updateCompute(deps.state, ws, existing, spec)

  const now = new Date().toISOString()
  const compute: Compute = {
    name,
    computeType: 'AmlCompute',
    vmSize: spec.vmSize,
    vmPriority: spec.vmPriority,
    minNodeCount: spec.minNodeCount,
    maxNodeCount: spec.maxNodeCount,
    idleTimeBeforeScaleDown: spec.idleTimeBeforeScaleDown,
    description: spec.description ?? '',
    provisioningState: 'Creating',
    provisioningErrors: [],
    createdOn: now,
    modifiedOn: now
  }
  ws.computes.set(name.toLowerCase(), compute)
  const op = deps.operations.start({
    subscriptionId: ws.subscriptionId,
    location: ws.location,
    complete: () => {
      if (ws.computes.get(name.toLowerCase()) !== compute) return null
      const failure = quotaFailure(deps.state, ws, compute)
      compute.provisioningState = failure ? 'Failed' : 'Succeeded'
      compute.provisioningErrors = failure ? [failure.error] : []
      compute.modifiedOn = new Date().toISOString()
      return failure
    },
    result: () => json(200, computeJson(ws, compute), armHeaders())
  })
  return json(201, computeJson(ws, compute), { ...armHeaders(true), 'Azure-AsyncOperation': deps.operations.statusUrl(ctx.baseUrl, op), 'Retry-After': '1' })
}

/** PUT on a compute that exists: scale settings and description change at once; size and priority cannot. */
function updateCompute(state: EmulatorState, ws: Workspace, compute: Compute, spec: ComputeSpec): Reply {
  if (compute.provisioningState !== 'Succeeded') {
    throw armError(409, 'Conflict', `Compute '${compute.name}' is ${compute.provisioningState.toLowerCase()}; retry once that has finished.`)
  }
  if (spec.vmSize.toLowerCase() !== compute.vmSize.toLowerCase()) {
    throw armError(400, 'BadRequest', `The vmSize of compute '${compute.name}' cannot be changed (it is ${compute.vmSize}); create a new compute for ${spec.vmSize}.`)
  }
  if (spec.vmPriority !== compute.vmPriority) {
    throw armError(400, 'BadRequest', `The vmPriority of compute '${compute.name}' cannot be changed (it is ${compute.vmPriority}).`)
  }
  const failure = quotaFailure(state, ws, { ...compute, maxNodeCount: spec.maxNodeCount })
  if (failure) throw armError(400, failure.error.code, failure.error.message)
  compute.minNodeCount = spec.minNodeCount
  compute.maxNodeCount = spec.maxNodeCount
  compute.idleTimeBeforeScaleDown = spec.idleTimeBeforeScaleDown
  if (spec.description !== undefined) compute.description = spec.description
  compute.modifiedOn = new Date().toISOString()
  return json(200, computeJson(ws, compute), armHeaders(true))
}

async function deleteCompute(deps: ComputeDeps, ctx: RequestContext): Promise<Reply> {
  const ws = resolveArmWorkspace(deps, ctx, 'workspaces/computes', DELETE)
  const action = ctx.query.get('underlyingResourceAction')
  if (action === null || !['delete', 'detach'].includes(action.toLowerCase())) {
    throw armError(
      400,
      'BadRequest',
      action === null
        ? "The query parameter 'underlyingResourceAction' is required: 'Delete' deletes the compute, 'Detach' detaches it from the workspace."
        : `The value '${action}' of 'underlyingResourceAction' is not valid: use 'Delete' or 'Detach'.`
    )
  }
  const key = ctx.params.compute.toLowerCase()
  const compute = ws.computes.get(key)
  if (!compute) return { status: 204, headers: armHeaders(true) }
  if (compute.provisioningState === 'Creating' || compute.provisioningState === 'Deleting') {
    throw armError(409, 'Conflict', `Compute '${compute.name}' is ${compute.provisioningState.toLowerCase()}; retry once that has finished.`)
  }
  compute.provisioningState = 'Deleting'
  compute.modifiedOn = new Date().toISOString()
  const op = deps.operations.start({
    subscriptionId: ws.subscriptionId,
    location: ws.location,
    complete: () => {
      if (ws.computes.get(key) === compute) ws.computes.delete(key)
      return null
    },
    result: () => ({ status: 204 })
  })
  return {
    status: 202,
    headers: {
      ...armHeaders(true),
      'Azure-AsyncOperation': deps.operations.statusUrl(ctx.baseUrl, op),
      Location: deps.operations.resultUrl(ctx.baseUrl, op),
      'Retry-After': '1'
    }
  }
}

/** Validates an AmlCompute PUT body as Azure ML does, naming the field at fault. */
function checkSpec(ws: Workspace, body: Record<string, unknown>): ComputeSpec {
  const bad = (message: string): Error => armError(400, 'BadRequest', message)
  if (typeof body.location !== 'string' || body.location.trim() === '') throw armError(400, 'LocationRequired', 'The location property is required for this definition.')
  const location = body.location.replace(/\s+/g, '').toLowerCase()
  if (location !== ws.location.toLowerCase()) {
    throw bad(`The compute location '${body.location}' must be the location of workspace '${ws.name}', '${ws.location}'.`)
  }
  const outer = objectOf(body.properties)
  if (!outer) throw bad("'properties' is required: { computeType: 'AmlCompute', properties: { vmSize, scaleSettings } }.")
  const type = outer.computeType
  if (typeof type !== 'string' || type === '') throw bad(`properties.computeType is required: one of ${COMPUTE_TYPES.join(', ')}.`)
  const known = COMPUTE_TYPES.find(t => t.toLowerCase() === type.toLowerCase())
  if (!known) throw bad(`Compute type '${type}' is not supported: use one of ${COMPUTE_TYPES.join(', ')}.`)
  if (known !== 'AmlCompute') throw bad(`Compute type '${known}' cannot be created by the local Azure ML service: it provisions AmlCompute clusters only.`)
  if (outer.description !== undefined && outer.description !== null && typeof outer.description !== 'string') throw bad('properties.description must be a string.')
  const props = objectOf(outer.properties)
  if (!props) throw bad('properties.properties is required for AmlCompute: { vmSize, vmPriority, scaleSettings: { maxNodeCount, minNodeCount, nodeIdleTimeBeforeScaleDown } }.')

  const vmSize = props.vmSize
  const sizes = Object.keys(VM_SIZES)
  if (typeof vmSize !== 'string' || !sizes.includes(vmSize.toUpperCase())) {
    throw bad(
      `${typeof vmSize === 'string' ? `The specified vm size '${vmSize}' is not supported in location '${ws.location}'.` : 'properties.properties.vmSize is required.'} Supported sizes include: ${sizes.join(', ')}.`
    )
  }
  const priority = props.vmPriority ?? 'Dedicated'
  const vmPriority = (['Dedicated', 'LowPriority'] as const).find(p => typeof priority === 'string' && p.toLowerCase() === priority.toLowerCase())
  if (!vmPriority) throw bad(`properties.properties.vmPriority '${String(priority)}' is not valid: use 'Dedicated' or 'LowPriority'.`)

  const scale = objectOf(props.scaleSettings)
  if (!scale) throw bad('properties.properties.scaleSettings is required: { maxNodeCount, minNodeCount, nodeIdleTimeBeforeScaleDown }.')
  const count = (field: string, fallback?: number): number => {
    const value = scale[field] ?? fallback
    if (value === undefined) throw bad(`properties.properties.scaleSettings.${field} is required.`)
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw bad(`properties.properties.scaleSettings.${field} must be a non-negative integer (got ${JSON.stringify(value)}).`)
    return value
  }
  const maxNodeCount = count('maxNodeCount')
  const minNodeCount = count('minNodeCount', 0)
  if (minNodeCount > maxNodeCount) throw bad(`scaleSettings.minNodeCount (${minNodeCount}) must not exceed scaleSettings.maxNodeCount (${maxNodeCount}).`)
  const idle = scale.nodeIdleTimeBeforeScaleDown ?? 'PT120S'
  if (typeof idle !== 'string' || !DURATION.test(idle)) {
    throw bad(`scaleSettings.nodeIdleTimeBeforeScaleDown '${String(idle)}' is not an ISO 8601 duration such as PT120S or PT5M.`)
  }
  return {
    vmSize,
    vmPriority,
    minNodeCount,
    maxNodeCount,
    idleTimeBeforeScaleDown: idle,
    description: typeof outer.description === 'string' ? outer.description : undefined
  }
}

/**
 * The quota check of provisioning: the vCPUs of every cluster of this priority in the subscription and region
 * (maxNodeCount × cores of the size, failed ones excluded) must stay within {@link CORE_QUOTA}.
 */
function quotaFailure(state: EmulatorState, ws: Workspace, compute: Compute): OperationFailure | null {
  const cores = (c: Compute): number => c.maxNodeCount * (VM_SIZES[c.vmSize.toUpperCase()] ?? 0)
  let inUse = 0
  for (const other of state.workspaces()) {
    if (other.subscriptionId !== ws.subscriptionId || other.location !== ws.location) continue
    for (const c of other.computes.values()) {
      if (c.name.toLowerCase() === compute.name.toLowerCase() && other === ws) continue
      if (c.vmPriority === compute.vmPriority && c.provisioningState !== 'Failed') inUse += cores(c)
    }
  }
  const requested = cores(compute)
  if (inUse + requested <= CORE_QUOTA) return null
  const kind = compute.vmPriority === 'Dedicated' ? 'Total Regional Dedicated vCPUs' : 'Total Regional Low-priority vCPUs'
  return {
    status: 400,
    error: {
      code: 'QuotaExceeded',
      message: `Operation results in exceeding quota limits of ${kind} in ${ws.location}. Maximum allowed: ${CORE_QUOTA}, Current in use: ${inUse}, Additional requested: ${requested}. Request a quota increase at https://aka.ms/azureml-quota.`
    }
  }
}

function objectOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
}
