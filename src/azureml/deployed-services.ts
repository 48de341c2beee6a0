import { ActionError } from '../errors.js'
import { pageItems } from '../http/paging.js'
import type { DataPlane } from './data-plane.js'

/** modelmanagement/v1.0 Service (a deployed model), the fields the action uses. */
export interface DeployedService {
  id?: string
  name?: string
  state?: string
  scoringUri?: string
  authEnabled?: boolean
  computeType?: string
}

/** Finds deployed models (web services) of a workspace and their keys. */
export class DeployedServiceClient {
  constructor(private readonly dataPlane: DataPlane) {}

  /** The service with this name, with its scoring URI and (when key auth is on) its primary key. */
  async scoringTarget(name: string): Promise<{ uri: string; key?: string; service: DeployedService }> {
    const session = this.dataPlane.session
    const operation = `looking up deployed service '${name}'`
    const response = await session.pipeline.send({
      method: 'GET',
      url: this.dataPlane.url('modelmanagement/v1.0', '/services', { name }),
      operation,
      auth: session.auth
    })
    const service = pageItems<DeployedService>(response).find(s => s.name === name)
    if (!service?.id) {
      throw new ActionError(`${operation}: workspace '${this.dataPlane.ref.workspaceName}' has no deployed service named '${name}'`, {
        hint: 'Check service-name (the name of the deployment, as shown on the Endpoints page of Azure ML studio), or give scoring-uri and scoring-key instead.'
      })
    }
    if (!service.scoringUri) throw response.unexpected(`the service has no scoring URI (state: ${service.state ?? 'unknown'})`)
    if (!service.authEnabled) return { uri: service.scoringUri, service }
    const keysResponse = await session.pipeline.send({
      method: 'POST',
      url: this.dataPlane.url('modelmanagement/v1.0', `/services/${encodeURIComponent(service.id)}/listkeys`),
      operation: `reading the keys of deployed service '${name}'`,
      auth: session.auth,
      idempotent: true
    })
    const keys = keysResponse.json<{ primaryKey?: string; secondaryKey?: string }>()
    const key = keys?.primaryKey || keys?.secondaryKey
    if (!key) throw keysResponse.unexpected('the answer has no key')
    session.pipeline.logger.mask(key)
    if (keys.secondaryKey) session.pipeline.logger.mask(keys.secondaryKey)
    return { uri: service.scoringUri, key, service }
  }
}
