import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { GITHUB_OIDC_HOSTS, type EmulatedCloud } from './clouds.js'

/** Where clients reach each service: the bases of the links the local service puts in its answers. */
export interface Endpoints {
  authority: string
  resourceManager: string
  /** The regional Azure ML host: discovery, history, execution, artifacts, model management. */
  dataPlane: string
  /** The base of a storage account's blob URLs (`{base}/{container}/{blob}`). */
  blob(account: string): string
  /** The front end of deployed models. */
  scoring: string
  /** Where a runner asks GitHub for ID tokens. */
  idTokenRequests: string
}

/** How one request reached the service, and where its links must point. */
export interface Addressed {
  /** The origin the client used for this request (`http://127.0.0.1:port`, or `https://{Host}`). */
  baseUrl: string
  endpoints: Endpoints
  /** The route path: the request's, or the blob route's for a request to a storage account's host. */
  path: string
  /** The host name the client asked for, when it used Azure's host names (request log). */
  host?: string
  /** Set when this host does not serve this path (answered 404, as the real host would). */
  refused?: string
}

/**
 * Addressing of the local Azure ML service. Over plain http on loopback (the usual way) every service is on
 * one origin, with blobs under `/blob/{account}`. Over its TLS port, reached through a proxy with Azure's
 * real host names, each service answers on its own host — `login.microsoftonline.com`, `management.azure.com`,
 * `{region}.api.azureml.ms`, `{account}.blob.core.windows.net`, … of the emulated cloud — links use those
 * names, and a host refuses paths that belong to another service.
 */
export class Addressing {
  constructor(
    private readonly cloud: EmulatedCloud,
    private readonly loopbackUrl: () => string
  ) {}

  /** The endpoints of the loopback origin. */
  loopback(): Endpoints {
    const url = this.loopbackUrl()
    return { authority: url, resourceManager: url, dataPlane: url, blob: account => `${url}/blob/${account}`, scoring: url, idTokenRequests: url }
  }

  /** The endpoints under Azure's (and GitHub's) host names. */
  azureHostNames(): Endpoints {
    const c = this.cloud
    return {
      authority: `https://${c.authorityHost}`,
      resourceManager: `https://${c.resourceManagerHost}`,
      dataPlane: `https://${c.region}.${c.dataPlaneDomain}`,
      blob: account => `https://${account}.${c.blobDomain}`,
      scoring: `https://${c.region}.${c.scoringDomain}`,
      idTokenRequests: `https://${GITHUB_OIDC_HOSTS.idTokenRequests}`
    }
  }

  /** The host names this cloud's services answer on (what the forward proxy sends here). */
  serves(host: string): boolean {
    return this.kindOf(host.toLowerCase()) !== undefined
  }

  resolve(req: IncomingMessage, path: string): Addressed {
    if (!(req.socket as TLSSocket).encrypted) return { baseUrl: this.loopbackUrl(), endpoints: this.loopback(), path }
    const hostHeader = req.headers.host ?? ''
    const host = hostHeader.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase()
    const addressed: Addressed = { baseUrl: `https://${hostHeader}`, endpoints: this.azureHostNames(), path, host }
    const kind = this.kindOf(host)
    if (kind === 'blob') addressed.path = `/blob/${host.split('.')[0]}${path}`
    else if (kind === undefined) addressed.refused = `No such host is known: '${host}'.`
    else if (kind !== 'any' && !SERVES[kind].test(path)) addressed.refused = `The host '${host}' does not serve ${path}.`
    return addressed
  }

  private kindOf(host: string): HostKind | undefined {
    const c = this.cloud
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host === 'localhost' || host.includes(':')) return 'any'
    if (host === c.authorityHost) return 'authority'
    if (host === c.resourceManagerHost) return 'resourceManager'
    if (host === `${c.region}.${c.dataPlaneDomain}`) return 'dataPlane'
    if (host === `${c.region}.${c.scoringDomain}`) return 'scoring'
    if (/^[a-z0-9]{3,24}$/.test(host.split('.')[0]) && host === `${host.split('.')[0]}.${c.blobDomain}`) return 'blob'
    if (host === GITHUB_OIDC_HOSTS.issuer) return 'issuer'
    if (host === GITHUB_OIDC_HOSTS.idTokenRequests) return 'idTokenRequests'
    return undefined
  }
}

type HostKind = 'any' | 'authority' | 'resourceManager' | 'dataPlane' | 'scoring' | 'blob' | 'issuer' | 'idTokenRequests'

/** The paths each kind of host serves. */
const SERVES: Record<Exclude<HostKind, 'any' | 'blob'>, RegExp> = {
  authority: /^\/[^/]+\/oauth2\/|^\/error$/,
  resourceManager: /^\/subscriptions\//i,
  dataPlane: /^\/(discovery$|history\/|execution\/|artifact\/|modelmanagement\/|studio\/)/i,
  scoring: /^\/(services\/[^/]+\/|api\/v1\/service\/)/,
  issuer: /^\/\.well-known\//,
  idTokenRequests: /\/_apis\/distributedtask\//
}
