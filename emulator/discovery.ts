import { json, type Route } from './http.js'

/**
 * The discovery document a workspace's `discoveryUrl` points at: every regional service is on the data-plane host
 * (this server). It answers with or without a bearer token (Azure's own docs fetch it bare).
 */
export function discoveryRoutes(): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/discovery',
      service: 'discovery',
      handler: ctx => {
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
