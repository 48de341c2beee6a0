import { serviceError } from './errors.js'
import type { RequestContext } from './http.js'
import type { EmulatorState } from './state.js'
import { RUN_TOKEN_AUDIENCE, type TokenClaims, type TokenService } from './tokens.js'

/** Who is calling: a service principal with an ARM token, or a run's process with its run token. */
export type Caller =
  | { kind: 'principal'; clientId: string; objectId: string; tenantId: string; claims: TokenClaims }
  | { kind: 'run'; runId: string; workspace: string; claims: TokenClaims }

/**
 * Bearer authentication and role checks, shared by ARM and the data plane. The accepted audiences are a
 * setting of the instance (the Azure public cloud's ARM audiences by default) so other clouds can be added.
 */
export class Access {
  constructor(
    private readonly tokens: TokenService,
    private readonly state: EmulatorState,
    private readonly audiences: readonly string[]
  ) {}

  /** The caller of this request, or a 401 in the shape of the route's service. */
  authenticate(ctx: RequestContext): Caller {
    const header = ctx.req.headers.authorization
    const tenant = this.state.tenants.keys().next().value ?? 'common'
    const fail = (code: string, message: string): never => {
      const challenge = `Bearer authorization_uri="${ctx.endpoints.authority}/${tenant}", error="invalid_token", error_description="${message.replace(/"/g, "'")}"`
      throw serviceError(ctx.service, 401, code, message, { 'WWW-Authenticate': challenge })
    }
    if (header === undefined || header.trim() === '') {
      return fail('AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.")
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (!match) return fail('AuthenticationFailed', "Authentication failed. The 'Authorization' header is provided in an invalid format.")
    const check = this.tokens.verify(match[1])
    if (!check.ok) {
      if (check.problem === 'expired' && check.claims) {
        return fail(
          'ExpiredAuthenticationToken',
          `The access token expiry UTC time '${dotnetTime(check.claims.exp * 1000)}' is earlier than current UTC time '${dotnetTime(Date.now())}'.`
        )
      }
      if (check.problem === 'notYetValid') return fail('InvalidAuthenticationToken', 'The access token is not yet valid.')
      return fail('InvalidAuthenticationToken', 'The access token is invalid.')
    }
    const claims = check.claims
    // A run token on the data plane authenticates; authorize() then limits it to its own run.
    if (claims.aud === RUN_TOKEN_AUDIENCE && (ctx.service === 'dataPlane' || ctx.service === 'modelManagement') && claims.runId && claims.workspace) {
      ctx.authenticatedAs = 'run-token'
      return { kind: 'run', runId: claims.runId, workspace: claims.workspace, claims }
    }
    if (!this.audiences.includes(claims.aud)) {
      return fail(
        'InvalidAuthenticationTokenAudience',
        `The access token has been obtained for wrong audience or resource '${claims.aud}'. It should exactly match with one of the allowed audiences ${this.audiences.map(a => `'${a}'`).join(',')}.`
      )
    }
    ctx.authenticatedAs = claims.appid
    return { kind: 'principal', clientId: claims.appid, objectId: claims.oid, tenantId: claims.tid, claims }
  }

  /**
   * ARM's role check: a 403 AuthorizationFailed unless the principal has a role at `scope` or above.
   * Run tokens pass here only for their own run (`runId`) in their own workspace (`workspaceId`).
   */
  authorize(ctx: RequestContext, caller: Caller, scope: string, action: string, run?: { runId: string; workspace: string }): void {
    if (caller.kind === 'run') {
      if (run && run.runId === caller.runId && run.workspace.toLowerCase() === caller.workspace.toLowerCase()) return
      throw serviceError(
        ctx.service,
        403,
        'AuthorizationFailed',
        `The run token of run '${caller.runId}' does not have authorization to perform action '${action}' over scope '${scope}'. A run token is only valid for its own run's history and artifacts.`
      )
    }
    if (this.state.hasRole(caller.objectId, scope)) return
    throw serviceError(
      ctx.service,
      403,
      'AuthorizationFailed',
      `The client '${caller.clientId}' with object id '${caller.objectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`
    )
  }
}

// ARM formats these times with .NET's default culture, e.g. '5/3/2019 9:56:15 PM'.
function dotnetTime(ms: number): string {
  const d = new Date(ms)
  const h = d.getUTCHours()
  const pad = (n: number): string => String(n).padStart(2, '0')
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h % 12 === 0 ? 12 : h % 12}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${h < 12 ? 'AM' : 'PM'}`
}
