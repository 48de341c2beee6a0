import type { Access } from './access.js'
import { armHeaders, armNextLink } from './arm.js'
import { armError } from './errors.js'
import { json, type Route } from './http.js'
import { paginate } from './paging.js'
import type { Settings } from './settings.js'
import type { EmulatorState } from './state.js'

/** api-versions of Microsoft.Resources the emulator answers for resource groups (newest first, as ARM lists them). */
export const RESOURCES_API_VERSIONS = ['2021-04-01', '2020-06-01', '2019-11-01', '2019-10-01'] as const

/** What the resource group route needs. */
export interface ResourceGroupDeps {
  state: EmulatorState
  access: Access
  settings: Settings
}

/**
 * Microsoft.Resources: the resource groups of a subscription. ARM lists only the groups the caller has a
 * role on (at, above or inside the group); a caller with no role anywhere in the subscription gets 403.
 */
export function resourceGroupRoutes(deps: ResourceGroupDeps): Route[] {
  return [
    {
      method: 'GET',
      // Literal segments match case-insensitively, so this is `resourceGroups` too.
      pattern: '/subscriptions/{sub}/resourcegroups',
      service: 'arm',
      handler: ctx => {
        const caller = deps.access.authenticate(ctx)
        const version = ctx.query.get('api-version')
        if (!version) throw armError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.')
        if (!(RESOURCES_API_VERSIONS as readonly string[]).includes(version)) {
          throw armError(400, 'InvalidApiVersionParameter', `The api-version '${version}' is invalid. The supported versions are '${RESOURCES_API_VERSIONS.join(',')}'.`)
        }
        const sub = ctx.params.sub
        const subscription = deps.state.subscriptions.get(sub.toLowerCase())
        if (!subscription) throw armError(404, 'SubscriptionNotFound', `The subscription '${sub}' could not be found.`)
        const scope = `/subscriptions/${subscription.subscriptionId}`
        const objectId = caller.kind === 'principal' ? caller.objectId : ''
        if (!deps.state.hasRoleWithin(objectId, scope)) deps.access.authorize(ctx, caller, scope, 'Microsoft.Resources/subscriptions/resourceGroups/read')
        const groups = [...subscription.resourceGroups.values()]
          .filter(rg => deps.state.hasRoleWithin(objectId, `${scope}/resourceGroups/${rg.name}`))
          .sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()))
        const page = paginate(groups, ctx.query.get('$skiptoken'), deps.settings.pageSize, undefined, 'arm')
        const body: Record<string, unknown> = {
          value: page.items.map(rg => ({
            id: `${scope}/resourceGroups/${rg.name}`,
            name: rg.name,
            type: 'Microsoft.Resources/resourceGroups',
            location: rg.location,
            properties: { provisioningState: 'Succeeded' }
          }))
        }
        if (page.next) body.nextLink = armNextLink(ctx, '$skiptoken', page.next)
        return json(200, body, armHeaders())
      }
    }
  ]
}
