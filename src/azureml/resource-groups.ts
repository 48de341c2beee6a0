import { ApiVersions } from '../constants.js'
import { collectPages, pageItems } from '../http/paging.js'
import type { AzureSession } from './session.js'

/** ARM resource group. */
export interface ResourceGroup {
  id?: string
  name?: string
  location?: string
  properties?: { provisioningState?: string }
}

/** The resource groups of a subscription (Microsoft.Resources), all pages. */
export async function listResourceGroups(session: AzureSession, subscriptionId: string): Promise<ResourceGroup[]> {
  const operation = `listing the resource groups of subscription '${subscriptionId}'`
  return collectPages(operation, async nextLink => {
    const response = await session.pipeline.send({
      method: 'GET',
      url: nextLink ?? `${session.cloud.resourceManager}/subscriptions/${encodeURIComponent(subscriptionId)}/resourcegroups?api-version=${ApiVersions.resources}`,
      operation,
      auth: session.auth
    })
    const body = response.json<{ nextLink?: string }>()
    return { items: pageItems<ResourceGroup>(response), next: body.nextLink ?? undefined }
  })
}
