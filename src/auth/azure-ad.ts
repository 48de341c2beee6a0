import { ActionError } from '../errors.js'
import type { Pipeline } from '../http/pipeline.js'

/** An access token and when it stops working. */
export interface AccessToken {
  token: string
  expiresOnMs: number
}

/** How the app proves who it is: a client secret, or a signed assertion (the GitHub OIDC token). */
export type ClientAuthentication = { secret: string } | { assertion: string }

export interface TokenRequest {
  authorityHost: string
  tenantId: string
  clientId: string
  /** Resource the token is for, e.g. https://management.azure.com/ */
  audience: string
  client: ClientAuthentication
}

/**
 * OAuth2 client credentials grant against the Azure AD v2 endpoint
 * (`/{tenant}/oauth2/v2.0/token`, `scope={audience}/.default`), with a secret or a client assertion.
 */
export async function requestAzureAdToken(pipeline: Pipeline, request: TokenRequest, now: () => number = Date.now): Promise<AccessToken> {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: request.clientId,
    scope: `${request.audience.replace(/\/+$/, '')}/.default`
  })
  if ('secret' in request.client) {
    form.set('client_secret', request.client.secret)
  } else {
    form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
    form.set('client_assertion', request.client.assertion)
  }
  const operation = `getting an Azure AD token for client '${request.clientId}' in tenant '${request.tenantId}'`
  const response = await pipeline.send({
    method: 'POST',
    url: `${request.authorityHost}/${encodeURIComponent(request.tenantId)}/oauth2/v2.0/token`,
    operation,
    auth: { kind: 'none' },
    text: { body: form.toString(), contentType: 'application/x-www-form-urlencoded' },
    // Asking for a token twice is harmless.
    idempotent: true
  })
  return parseTokenResponse(response.json<Record<string, unknown>>(), operation, now())
}

/**
 * Reads a token answer of either endpoint: v1 sends every number as a JSON string (`"expires_in": "3599"`),
 * v2 as a number; `expires_on` (epoch seconds) wins when present.
 */
export function parseTokenResponse(body: Record<string, unknown>, operation: string, nowMs: number): AccessToken {
  const token = body?.access_token
  if (typeof token !== 'string' || token === '') {
    throw new ActionError(`${operation}: the answer has no access_token`)
  }
  const expiresOn = Number(body.expires_on)
  if (body.expires_on !== undefined && Number.isFinite(expiresOn) && expiresOn > 0) {
    return { token, expiresOnMs: expiresOn * 1000 }
  }
  const expiresIn = Number(body.expires_in)
  if (!Number.isFinite(expiresIn) || expiresIn <= 0) {
    throw new ActionError(`${operation}: the answer has no usable expires_in (got ${JSON.stringify(body.expires_in)})`)
  }
  return { token, expiresOnMs: nowMs + expiresIn * 1000 }
}
