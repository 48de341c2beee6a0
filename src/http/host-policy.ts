import { isLoopbackHost, type Cloud } from '../clouds.js'
import { ActionError } from '../errors.js'

/**
 * Where the action may send what. Every request must use https (plain http only to loopback, the local
 * Azure ML service); the Azure AD token goes only to the authority host, the ARM endpoint and Azure ML
 * hosts of the selected cloud — or to loopback when the endpoints themselves are loopback.
 */
export class HostPolicy {
  private readonly tokenHosts: Set<string>
  private readonly loopbackEndpoints: boolean

  constructor(private readonly cloud: Cloud) {
    const authority = new URL(cloud.authorityHost)
    const arm = new URL(cloud.resourceManager)
    this.tokenHosts = new Set([authority.host.toLowerCase(), arm.host.toLowerCase()])
    this.loopbackEndpoints = isLoopbackHost(authority.hostname) || isLoopbackHost(arm.hostname)
  }

  /** Throws unless the URL may be called at all (https, or http to loopback). */
  assertTransport(url: string, purpose: string): URL {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new ActionError(`${purpose}: '${url}' is not a valid URL`)
    }
    if (parsed.protocol === 'https:') return parsed
    if (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)) return parsed
    throw new ActionError(`${purpose}: refusing to call ${parsed.protocol}//${parsed.host}: only https:// is allowed (plain http:// only for loopback hosts such as the local Azure ML service)`)
  }

  /** Whether the Azure AD token may be sent to this URL. */
  allowsToken(url: URL): boolean {
    const host = url.host.toLowerCase()
    if (this.tokenHosts.has(host)) return true
    if (isLoopbackHost(url.hostname)) return this.loopbackEndpoints
    if (url.protocol !== 'https:') return false
    const name = url.hostname.toLowerCase()
    return this.cloud.azureMlDomains.some(domain => name === domain || name.endsWith(`.${domain}`))
  }

  /** Throws before anything is sent when the Azure AD token would go to a host outside Azure ML. */
  assertTokenAllowed(url: string, purpose: string): void {
    const parsed = this.assertTransport(url, purpose)
    if (!this.allowsToken(parsed)) {
      throw new ActionError(
        `${purpose}: refusing to send the Azure AD token to ${parsed.host}: it is not an Azure Machine Learning host of ${this.cloud.name} (${this.cloud.azureMlDomains.join(', ')})`,
        { hint: 'The workspace discovery document or an input points outside Azure. If this is a sovereign or private cloud, set `cloud` (and `resource-manager-endpoint`) to match it.' }
      )
    }
  }
}
