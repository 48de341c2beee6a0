import type { Logger } from '../logger.js'
import type { ClientAuthentication } from './azure-ad.js'

/** Gets a GitHub Actions ID token for an audience (core.getIDToken at the edge). */
export type IdTokenSource = (audience: string) => Promise<string>

/**
 * Workload identity federation: every Azure AD token request gets a FRESH GitHub ID token as its client
 * assertion. GitHub's tokens live about 5 minutes, so a token kept from the start of a multi-hour run would
 * be refused (AADSTS700024) when the Azure AD token is refreshed.
 */
export function federatedAssertion(source: IdTokenSource, audience: string, logger: Logger): () => Promise<ClientAuthentication> {
  let described = false
  return async () => {
    const token = await source(audience)
    logger.mask(token)
    if (!described && logger.isDebug()) {
      described = true
      logger.debug(`GitHub OIDC token claims (compare with the federated credential): ${describeClaims(token)}`)
    }
    return { assertion: token }
  }
}

/** The claims that decide whether a federated credential matches — never the token itself. */
export function describeClaims(token: string): string {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>
    return ['iss', 'sub', 'aud', 'job_workflow_ref']
      .filter(claim => payload[claim] !== undefined)
      .map(claim => `${claim}=${JSON.stringify(payload[claim])}`)
      .join(', ')
  } catch {
    return '(the token could not be decoded)'
  }
}
