import { ComputeClient } from '../azureml/computes.js'
import { withSession } from '../azureml/connect.js'
import { createWorkspace as putWorkspace, resolveWorkspace } from '../azureml/workspace.js'
import { Outputs } from '../constants.js'
import { InputError } from '../errors.js'
import { table } from '../report/markdown.js'
import type { CreateComputeSettings, CreateWorkspaceSettings } from '../settings.js'
import type { OperationContext } from './context.js'
import type { OperationResult } from './result.js'

const DEFAULT_TIMEOUT_MINUTES = 30

function timing(ctx: OperationContext, timeoutMinutes: number | undefined, what: string) {
  let last = ''
  return {
    sleep: (ms: number) => ctx.sleep(ms, ctx.signal),
    now: ctx.now,
    signal: ctx.signal,
    timeoutMs: (timeoutMinutes ?? DEFAULT_TIMEOUT_MINUTES) * 60_000,
    onProgress: (status: string) => {
      if (status !== last) ctx.logger.info(`${what}: ${status}`)
      last = status
    }
  }
}

/**
 * `create-compute`: creates (or updates the scale settings of) an AmlCompute cluster and waits until it is
 * provisioned. Without `location`, the workspace's region is used.
 */
export async function createCompute(settings: CreateComputeSettings, ctx: OperationContext): Promise<OperationResult> {
  return withSession(settings.azure, ctx, async session => {
    const location = settings.compute.location ?? (await resolveWorkspace(session, settings.azure.workspace)).location
    if (!location) throw new InputError('location', `required: workspace '${settings.azure.workspace.workspaceName}' reports no region to default to`)
    const spec = { ...settings.compute, location }
    ctx.logger.info(`Creating compute '${spec.name}': ${spec.vmSize} (${spec.vmPriority}), ${spec.minNodes}-${spec.maxNodes} nodes, in ${location}`)
    const compute = await new ComputeClient(session, settings.azure.workspace).createOrUpdate(spec, timing(ctx, settings.timeoutMinutes, `compute '${spec.name}'`))
    const row = {
      name: compute.name ?? spec.name,
      vmSize: compute.properties?.properties?.vmSize ?? spec.vmSize,
      vmPriority: compute.properties?.properties?.vmPriority ?? spec.vmPriority,
      nodes: `${spec.minNodes}-${spec.maxNodes}`,
      provisioningState: compute.properties?.provisioningState ?? 'Succeeded',
      location: compute.location ?? location,
      id: compute.id ?? ''
    }
    ctx.logger.info(`Compute '${row.name}' is ${row.provisioningState}.`)
    return {
      outputs: { [Outputs.result]: JSON.stringify(row) },
      summary: `### Compute ${row.name} ${row.provisioningState}\n\n${table(['', ''], Object.entries(row).map(([k, v]) => [k, String(v)]))}\n`
    }
  })
}

/** `create-workspace`: PUT on ARM (202 Accepted + Location), then follows the operation until provisioned. */
export async function createWorkspace(settings: CreateWorkspaceSettings, ctx: OperationContext): Promise<OperationResult> {
  return withSession(settings.azure, ctx, async session => {
    const ref = settings.azure.workspace
    ctx.logger.info(`Creating workspace '${ref.workspaceName}' in resource group '${ref.resourceGroup}' (${settings.workspace.location})`)
    const workspace = await putWorkspace(session, ref, settings.workspace, timing(ctx, settings.timeoutMinutes, `workspace '${ref.workspaceName}'`))
    const row = {
      name: workspace.name ?? ref.workspaceName,
      resourceGroup: ref.resourceGroup,
      location: workspace.location ?? settings.workspace.location,
      provisioningState: workspace.properties?.provisioningState ?? 'Succeeded',
      workspaceId: workspace.properties?.workspaceId ?? '',
      id: workspace.id ?? ''
    }
    ctx.logger.info(`Workspace '${row.name}' is ${row.provisioningState}.`)
    return {
      outputs: { [Outputs.result]: JSON.stringify(row) },
      summary: `### Workspace ${row.name} ${row.provisioningState}\n\n${table(['', ''], Object.entries(row).map(([k, v]) => [k, String(v)]))}\n`
    }
  })
}
