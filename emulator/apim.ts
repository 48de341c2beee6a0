import { timingSafeEqual } from 'node:crypto'
import { classicBesRoutes, type BatchJobs } from './classic-bes.js'
import { classicRrsRoutes } from './classic-rrs.js'
import type { ClassicServices } from './classic.js'
import { HttpError } from './errors.js'
import type { RequestContext, Route } from './http.js'

/**
 * The API Management gateway of the guide in seed 004: an API with URL suffix `azureml-demo` proxying the
 * classic web service host, in the Starter product. The subscription keys are fixed (32 hex digits, as APIM
 * makes them) so a README or a test can name them.
 */
export const APIM_DEMO = {
  /** The API's path on the gateway; the classic paths follow it. */
  prefix: '/apim/azureml-demo',
  primaryKey: 'ee88e30c40f6b1427d82b8e097a6afe7',
  secondaryKey: '19be90287102a041752adb2763ab48a0'
} as const

/** What the gateway needs: the classic services it fronts and its subscription keys. */
export interface ApimDeps {
  services: ClassicServices
  jobs: BatchJobs
  /** Default: {@link APIM_DEMO}. */
  gateway?: { prefix: string; subscriptionKeys: readonly string[] }
}

/**
 * The classic RRS and BES operations behind API Management: same paths under the API's prefix, each first
 * checked for the subscription key (`Ocp-Apim-Subscription-Key` header or `subscription-key` query). The
 * gateway's 401 is APIM's `{statusCode, message}`; the service's own 401 (wrong API key) stays the classic
 * `{"error":…}`, so a client can tell which key is wrong. An operation the API does not declare is APIM's 404.
 */
export function apimRoutes(deps: ApimDeps): Route[] {
  const prefix = deps.gateway?.prefix ?? APIM_DEMO.prefix
  const keys = deps.gateway?.subscriptionKeys ?? [APIM_DEMO.primaryKey, APIM_DEMO.secondaryKey]
  const gate = (ctx: RequestContext): void => checkSubscriptionKey(ctx, prefix, keys)
  const notFound: Route['handler'] = () => {
    throw apimError(404, 'Resource not found')
  }
  return [
    ...classicRrsRoutes(deps, { prefix, gate }),
    ...classicBesRoutes(deps, { prefix, gate }),
    ...['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'].map(method => ({ method, pattern: `${prefix}/{rest*}`, service: 'studio' as const, handler: notFound }))
  ]
}

function checkSubscriptionKey(ctx: RequestContext, prefix: string, keys: readonly string[]): void {
  const header = ctx.req.headers['ocp-apim-subscription-key']
  const given = (Array.isArray(header) ? header[0] : header) || ctx.query.get('subscription-key') || ''
  const challenge = { 'WWW-Authenticate': `AzureApiManagementKey realm="${ctx.baseUrl}${prefix}",name="Ocp-Apim-Subscription-Key",type="header"` }
  if (given === '') {
    throw apimError(401, 'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.', challenge)
  }
  const bytes = Buffer.from(given)
  if (!keys.some(k => Buffer.byteLength(k) === bytes.length && timingSafeEqual(Buffer.from(k), bytes))) {
    throw apimError(401, 'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.', challenge)
  }
}

function apimError(status: number, message: string, headers: Record<string, string> = {}): HttpError {
  return new HttpError(status, { kind: 'raw', contentType: 'application/json; charset=utf-8', body: JSON.stringify({ statusCode: status, message }) }, headers)
}
