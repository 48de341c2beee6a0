import type { Access } from './access.js'
import { json, type Route } from './http.js'

/**
 * The discovery document a workspace's `discoveryUrl` points at: every regional service is on the data-plane host
 * (this server). Like every route of the train path here, it answers only with a valid token this service
 * issued (a 401 in ARM's shape otherwise); the action sends its ARM token.
 */
export function discoveryRoutes(deps: { access: Access }): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/discovery',
      service: 'discovery',
      handler: ctx => {
        deps.access.authenticate(ctx)
        const api = ctx.endpoints.dataPlane
        return json(200, {
          api: api,
          catalog: api,
          experimentation: api,
          gallery: api,
          history: api,
          hyperdrive: api,
          labeling: api,
          modelmanagement: api,
          pipelines: api,
          studiocoreservices: api
        })
      }
    }
  ]
}
