import { ApiVersions } from '../constants.js'
import { ActionError } from '../errors.js'
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
    throw new ActionError(`${operation}: the workspace has no properties.discoveryUrl (provisioning state: ${workspace?.properties?.provisioningState ?? 'unknown'})${response.requestId ? ` (x-ms-request-id: ${response.requestId})` : ''}`)
  }
  const discoveryOperation = `reading the discovery document of workspace '${ref.workspaceName}'`
  // The token goes to the discovery host only if it is an Azure ML host (checked by the pipeline).
  const discovery = (
    await session.pipeline.send({ method: 'GET', url: discoveryUrl, operation: discoveryOperation, auth: session.auth })
  ).json<DiscoveryDocument>()
  const api = discovery?.api
  if (typeof api !== 'string' || !api) {
    throw new ActionError(`${discoveryOperation}: the document at ${discoveryUrl} has no 'api' entry`)
  }
  session.pipeline.hostPolicy.assertTokenAllowed(api, discoveryOperation)
  session.pipeline.logger.debug(`Workspace ${ref.workspaceName}: data plane at ${api}`)
  return {
    ref,
    location: workspace.location,
    workspaceId: workspace.properties?.workspaceId,
    dataPlane: new DataPlane(session, api, ref)
  }
}
