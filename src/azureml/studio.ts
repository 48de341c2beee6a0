import { isLoopbackHost, type Cloud } from '../clouds.js'
import type { WorkspaceRef } from './session.js'

/**
 * The studio link of a run, as the SDK's `run.get_portal_url()` builds it. Against the local Azure ML
 * service (loopback ARM endpoint) it links to that service's own run page.
 */
export function runUrl(cloud: Cloud, tenantId: string, ref: WorkspaceRef, runId: string): string {
  const arm = new URL(cloud.resourceManager)
  const studio = isLoopbackHost(arm.hostname) ? `${arm.origin}/studio` : cloud.studioUrl
  const wsid = `/subscriptions/${ref.subscriptionId}/resourcegroups/${ref.resourceGroup}/workspaces/${ref.workspaceName}`
  return `${studio}/runs/${encodeURIComponent(runId)}?wsid=${encodeURIComponent(wsid).replace(/%2F/g, '/')}&tid=${encodeURIComponent(tenantId)}`
}
