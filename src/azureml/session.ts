import type { Cloud } from '../clouds.js'
import type { Pipeline, RequestAuth } from '../http/pipeline.js'

/** What every Azure client needs: the request pipeline, the Azure AD credential and the cloud's endpoints. */
export interface AzureSession {
  pipeline: Pipeline
  auth: RequestAuth
  cloud: Cloud
  tenantId: string
}

/** Identifies a workspace as the inputs do. */
export interface WorkspaceRef {
  subscriptionId: string
  resourceGroup: string
  workspaceName: string
}

/** The workspace's ARM resource path, also the path segment every data-plane URL carries. */
export function workspacePath(ref: WorkspaceRef): string {
  return (
    `/subscriptions/${encodeURIComponent(ref.subscriptionId)}` +
    `/resourceGroups/${encodeURIComponent(ref.resourceGroup)}` +
    `/providers/Microsoft.MachineLearningServices/workspaces/${encodeURIComponent(ref.workspaceName)}`
  )
}
