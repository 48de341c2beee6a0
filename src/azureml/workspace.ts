import { ApiVersions } from '../constants.js'
import { ActionError } from '../errors.js'
import { waitForLongRunning, type OperationTiming } from '../http/long-running.js'
import { collectPages, pageItems } from '../http/paging.js'
import { DataPlane } from './data-plane.js'
import { workspacePath, type AzureSession, type WorkspaceRef } from './session.js'
import type { DiscoveryDocument, Workspace } from './types.js'

/** A workspace found on ARM, with the regional host of its data plane. */
export interface ResolvedWorkspace {
  ref: WorkspaceRef
  location?: string
  workspaceId?: string
  dataPlane: DataPlane
}

/**
 * GET the workspace on ARM → `properties.discoveryUrl` → GET the discovery document → its `api` value is
 * the regional host of history, execution, artifacts and model management.
 */
export async function resolveWorkspace(session: AzureSession, ref: WorkspaceRef): Promise<ResolvedWorkspace> {
  const operation = `reading workspace '${ref.workspaceName}' in resource group '${ref.resourceGroup}'`
  const response = await session.pipeline.send({
    method: 'GET',
    url: `${session.cloud.resourceManager}${workspacePath(ref)}?api-version=${ApiVersions.machineLearningServices}`,
    operation,
    auth: session.auth
  })
  const workspace = response.json<Workspace>()
  const discoveryUrl = workspace?.properties?.discoveryUrl
  if (typeof discoveryUrl !== 'string' || !discoveryUrl) {
    throw response.unexpected(`the workspace has no properties.discoveryUrl (provisioning state: ${workspace?.properties?.provisioningState ?? 'unknown'})`)
  }
  const discoveryOperation = `reading the discovery document of workspace '${ref.workspaceName}'`
  // The token goes to the discovery host only if it is an Azure ML host (checked by the pipeline).
  const discoveryResponse = await session.pipeline.send({ method: 'GET', url: discoveryUrl, operation: discoveryOperation, auth: session.auth })
  const api = discoveryResponse.json<DiscoveryDocument>()?.api
  if (typeof api !== 'string' || !api) throw discoveryResponse.unexpected(`the document at ${discoveryUrl} has no 'api' entry`)
  session.pipeline.hostPolicy.assertTokenAllowed(api, discoveryOperation)
  session.pipeline.logger.debug(`Workspace ${ref.workspaceName}: data plane at ${api}`)
  return {
    ref,
    location: workspace.location,
    workspaceId: workspace.properties?.workspaceId,
    dataPlane: new DataPlane(session, api, ref)
  }
}

/** The workspaces of a subscription, or of one resource group (all pages). */
export async function listWorkspaces(session: AzureSession, subscriptionId: string, resourceGroup?: string): Promise<Workspace[]> {
  const scope = `/subscriptions/${encodeURIComponent(subscriptionId)}${resourceGroup ? `/resourceGroups/${encodeURIComponent(resourceGroup)}` : ''}`
  const operation = `listing the workspaces of ${resourceGroup ? `resource group '${resourceGroup}'` : `subscription '${subscriptionId}'`}`
  return collectPages(operation, async nextLink => {
    const response = await session.pipeline.send({
      method: 'GET',
      url: nextLink ?? `${session.cloud.resourceManager}${scope}/providers/Microsoft.MachineLearningServices/workspaces?api-version=${ApiVersions.machineLearningServices}`,
      operation,
      auth: session.auth
    })
    const body = response.json<{ nextLink?: string }>()
    return { items: pageItems<Workspace>(response), next: body.nextLink ?? undefined }
  })
}

/** What `create-workspace` asks for: the four dependencies are ARM resource ids. */
export interface WorkspaceSpec {
  location: string
  storageAccount: string
  keyVault: string
  applicationInsights: string
  containerRegistry?: string
  friendlyName?: string
  description?: string
}

/**
 * PUT the workspace (ARM answers 202 Accepted with a Location to follow, as the REST how-to says) and wait
 * until it is provisioned; returns the workspace as ARM then shows it.
 */
export async function createWorkspace(session: AzureSession, ref: WorkspaceRef, spec: WorkspaceSpec, timing: OperationTiming): Promise<Workspace> {
  const operation = `creating workspace '${ref.workspaceName}' in resource group '${ref.resourceGroup}'`
  const url = `${session.cloud.resourceManager}${workspacePath(ref)}?api-version=${ApiVersions.machineLearningServices}`
  const response = await session.pipeline.send({
    method: 'PUT',
    url,
    operation,
    auth: session.auth,
    json: {
      location: spec.location,
      identity: { type: 'SystemAssigned' },
      properties: {
        friendlyName: spec.friendlyName,
        description: spec.description,
        storageAccount: spec.storageAccount,
        keyVault: spec.keyVault,
        applicationInsights: spec.applicationInsights,
        containerRegistry: spec.containerRegistry
      }
    }
  })
  await waitForLongRunning(response, { pipeline: session.pipeline, auth: session.auth, operation, ...timing })
  const workspace = (await session.pipeline.send({ method: 'GET', url, operation: `reading workspace '${ref.workspaceName}'`, auth: session.auth })).json<Workspace>()
  const state = workspace?.properties?.provisioningState
  if (state && state !== 'Succeeded') throw new ActionError(`${operation}: provisioning ended ${state}`)
  return workspace
}
