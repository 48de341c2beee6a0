import { json, type Route } from './http.js'

/**
 * The discovery document a workspace's `discoveryUrl` points at: every regional service lives on this one
 * server. It answers with or without a bearer token (Azure's own docs fetch it bare).
 */
export function discoveryRoutes(): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/discovery',
      service: 'discovery',
      handler: ctx =>
        json(200, {
          api: ctx.baseUrl,
          catalog: ctx.baseUrl,
          experimentation: ctx.baseUrl,
          gallery: ctx.baseUrl,
          history: ctx.baseUrl,
          hyperdrive: ctx.baseUrl,
          labeling: ctx.baseUrl,
          modelmanagement: ctx.baseUrl,
          pipelines: ctx.baseUrl,
          studiocoreservices: ctx.baseUrl
        })
    }
  ]
}
