import { aadError, type HttpError } from './errors.js'
import { json, mediaType, readBody, type Reply, type RequestContext, type Route } from './http.js'
import type { Settings } from './settings.js'
import type { GitHubOidc } from './github-oidc.js'
import type { EmulatorState, FederatedCredential, Principal, Tenant } from './state.js'
import type { TokenService } from './tokens.js'

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$/i

/** What the AAD routes need from the emulator. */
export interface AadDeps {
  state: EmulatorState
  tokens: TokenService
  settings: Settings
  /** Resources (application ID URIs) the tenant can issue tokens for, e.g. ARM and Storage. */
  resources: readonly string[]
  /** The OIDC issuer whose ID tokens federated credentials can trust (GitHub's stand-in). */
  oidc: GitHubOidc
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

type Version = 'v1' | 'v2'

/**
 * Azure AD's client-credentials token endpoints (v1 `resource`, v2 `scope`). Each check mirrors one
 * AADSTS error so that clients see the errors users actually hit (wrong secret, unknown app or tenant).
 */
export function aadRoutes(deps: AadDeps): Route[] {
  const post = (version: Version) => (ctx: RequestContext) => issueToken(deps, ctx, version)
  const get = () => (ctx: RequestContext) => methodNotAllowed(ctx)
  return [
    { method: 'POST', pattern: '/{tenant}/oauth2/token', service: 'aad', handler: post('v1') },
    { method: 'POST', pattern: '/{tenant}/oauth2/v2.0/token', service: 'aad', handler: post('v2') },
    { method: 'GET', pattern: '/{tenant}/oauth2/token', service: 'aad', handler: get() },
    { method: 'GET', pattern: '/{tenant}/oauth2/v2.0/token', service: 'aad', handler: get() }
  ]
}

function methodNotAllowed(ctx: RequestContext): never {
  const err = aadError(405, 'invalid_request', 900561, `The endpoint only accepts POST, OPTIONS requests. Received a ${ctx.method} request.`)
  throw err
}

async function issueToken(deps: AadDeps, ctx: RequestContext, version: Version): Promise<Reply> {
  const body = await readBody(ctx.req, 1024 * 1024)
  // AAD reads nothing from a body that is not a form: every parameter is then "missing".
  const form = mediaType(ctx.req) === 'application/x-www-form-urlencoded' ? new URLSearchParams(body.toString('utf8')) : new URLSearchParams()
  const tenant = findTenant(deps.state, ctx.params.tenant)
  const grantType = form.get('grant_type')
  if (!grantType) throw missing('grant_type')
  if (grantType !== 'client_credentials') throw aadError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType}'.`)
  const clientId = form.get('client_id')
  if (!clientId) throw missing('client_id')
  const resource = version === 'v1' ? resourceOf(form) : resourceOfScope(form)
  const principal = tenant.principals.get(clientId.toLowerCase())
  if (!principal) {
    throw aadError(
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenant.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`
    )
  }
  ctx.clientCredential = authenticateClient(deps, form, principal)
  const known = deps.resources.find(r => trimSlash(r).toLowerCase() === trimSlash(resource).toLowerCase())
  if (!known) {
    throw aadError(
      400,
      'invalid_resource',
      500011,
      `The resource principal named ${resource} was not found in the tenant named ${tenant.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`
    )
  }
  const lifetime = deps.settings.tokenLifetimeSeconds
  const { token, claims } = issueAppToken(deps.tokens, tenant.tenantId, principal, resource, lifetime)
  const headers = { 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache' }
  if (version === 'v1') {
    return json(
      200,
      {
        token_type: 'Bearer',
        expires_in: String(lifetime),
        ext_expires_in: String(lifetime),
        expires_on: String(claims.exp),
        not_before: String(claims.nbf),
        resource,
        access_token: token
      },
      headers
    )
  }
  return json(200, { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token }, headers)
}

/**
 * Proves the client is who it claims to be: with one of its client secrets, or with a client assertion
 * that one of its federated credentials trusts. Says which it was, for the request log.
 */
function authenticateClient(deps: AadDeps, form: URLSearchParams, principal: Principal): 'client_secret' | 'client_assertion' {
  const secret = form.get('client_secret')
  const assertion = form.get('client_assertion')
  const assertionType = form.get('client_assertion_type')
  if (secret && (assertion || assertionType)) {
    throw aadError(400, 'invalid_request', 700025, "Only one client credential may be presented: 'client_secret' or 'client_assertion', not both.")
  }
  if (assertion || assertionType) {
    if (!assertionType) throw missing('client_assertion_type')
    if (assertionType !== JWT_BEARER) throw aadError(400, 'invalid_request', 50027, `Invalid client_assertion_type '${assertionType}': only ${JWT_BEARER} is supported.`)
    if (!assertion) throw missing('client_assertion')
    verifyFederatedAssertion(deps, assertion, principal)
    return 'client_assertion'
  }
  if (!secret) {
    throw aadError(401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
  }
  if (!principal.secrets.includes(secret)) {
    throw aadError(
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${principal.clientId}'.`
    )
  }
  return 'client_secret'
}

const FIC_CHECK = 'Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://docs.microsoft.com/azure/active-directory/develop/workload-identity-federation'

/**
 * Workload identity federation: the assertion must be a well-formed JWT from an issuer one of the app's
 * federated credentials names, signed with that issuer's key, within its lifetime, and its subject and
 * audience must match that credential — each failure with the AADSTS code Azure AD gives it.
 */
function verifyFederatedAssertion(deps: AadDeps, assertion: string, principal: Principal): void {
  const check = deps.oidc.verify(assertion)
  if (!check.ok && check.problem === 'malformed') throw aadError(400, 'invalid_client', 50027, 'JWT token is invalid or malformed.')
  const claims = check.claims ?? {}
  const issuer = typeof claims.iss === 'string' ? claims.iss : ''
  const subject = typeof claims.sub === 'string' ? claims.sub : ''
  const audience = typeof claims.aud === 'string' ? claims.aud : ''
  const credentials = principal.federatedCredentials
  if (credentials.length === 0) {
    throw aadError(
      400,
      'invalid_client',
      70021,
      `No matching federated identity record found for presented assertion. Assertion Issuer: '${issuer}'. Assertion Subject: '${subject}'. Assertion Audience: '${audience}'. ${FIC_CHECK}`
    )
  }
  const byIssuer = credentials.filter(c => c.issuer === issuer)
  if (byIssuer.length === 0) throw aadError(400, 'invalid_client', 700211, `No matching federated identity record found for presented assertion issuer '${issuer}'. ${FIC_CHECK}`)
  // The issuer's signing keys come from its discovery document; this Azure AD can reach one issuer only.
  if (!check.ok) throw aadError(401, 'invalid_client', 700027, 'Client assertion failed signature validation.')
  const nowSeconds = Date.now() / 1000
  const exp = Number(claims.exp)
  const nbf = Number(claims.nbf ?? claims.iat)
  if (!Number.isFinite(exp) || nowSeconds >= exp || (Number.isFinite(nbf) && nowSeconds + 300 < nbf)) {
    throw aadError(
      400,
      'invalid_client',
      700024,
      `Client assertion is not within its valid time range. Current time: ${isoTime(nowSeconds)}, assertion valid from ${Number.isFinite(nbf) ? isoTime(nbf) : 'unknown'}, expiry time of assertion ${Number.isFinite(exp) ? isoTime(exp) : 'unknown'}. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .`
    )
  }
  const bySubject = byIssuer.filter(c => c.subject === subject)
  if (bySubject.length === 0) throw aadError(400, 'invalid_client', 700213, `No matching federated identity record found for presented assertion subject '${subject}'. ${FIC_CHECK}`)
  if (!bySubject.some((c: FederatedCredential) => c.audiences.includes(audience))) {
    throw aadError(400, 'invalid_client', 700212, `No matching federated identity record found for presented assertion audience '${audience}'. ${FIC_CHECK}`)
  }
}

function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('Z', '0000Z')
}

/** An app-only access token of this principal for a resource, as Azure AD's v1 tokens carry it. */
export function issueAppToken(tokens: TokenService, tenantId: string, principal: Principal, resource: string, lifetimeSeconds: number): ReturnType<TokenService['issue']> {
  return tokens.issue(
    { aud: resource, iss: `https://sts.windows.net/${tenantId}/`, tid: tenantId, appid: principal.clientId, oid: principal.objectId, sub: principal.objectId, idtyp: 'app', ver: '1.0' },
    lifetimeSeconds
  )
}

function findTenant(state: EmulatorState, raw: string): Tenant {
  if (!GUID.test(raw) && !DNS_NAME.test(raw)) {
    throw aadError(400, 'invalid_request', 900023, `Specified tenant identifier '${raw}' is neither a valid DNS name, nor a valid external domain.`)
  }
  const tenant = state.tenant(raw)
  if (!tenant) {
    throw aadError(
      400,
      'invalid_request',
      90002,
      `Tenant '${raw}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`
    )
  }
  return tenant
}

function resourceOf(form: URLSearchParams): string {
  const resource = form.get('resource')
  if (!resource) throw missing('resource')
  return resource
}

function resourceOfScope(form: URLSearchParams): string {
  const scope = form.get('scope')
  if (!scope) throw missing('scope')
  const scopes = scope.split(' ').filter(Boolean)
  const invalid = scopes.find(s => !s.endsWith('/.default'))
  if (invalid !== undefined || scopes.length === 0) {
    throw aadError(
      400,
      'invalid_scope',
      1002012,
      `The provided value for scope ${invalid ?? scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`
    )
  }
  const resources = new Set(scopes.map(s => s.slice(0, -'/.default'.length)))
  if (resources.size > 1) {
    throw aadError(400, 'invalid_scope', 70011, `The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid. Scopes of several resources were requested.`)
  }
  return [...resources][0]
}

function missing(parameter: string): HttpError {
  return aadError(400, 'invalid_request', 900144, `The request body must contain the following parameter: '${parameter}'.`)
}

function trimSlash(text: string): string {
  return text.replace(/\/+$/, '')
}
