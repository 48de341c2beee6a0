import { ActionError } from '../errors.js'
import type { Logger } from '../logger.js'
import { redactText } from '../http/redact.js'
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
    const token = await requestIdToken(source, audience)
    logger.mask(token)
    if (!described && logger.isDebug()) {
      described = true
      logger.debug(`GitHub OIDC token claims (compare with the federated credential): ${describeClaims(token)}`)
    }
    return { assertion: token }
  }
}

/**
 * One GitHub ID token. GitHub refuses it when the job lacks `id-token: write` (or the request token expired);
 * the toolkit's own error names neither the audience nor what to change, so it is said here.
 */
async function requestIdToken(source: IdTokenSource, audience: string): Promise<string> {
  try {
    const token = await source(audience)
    if (typeof token !== 'string' || token.split('.').length !== 3) throw new Error('the answer holds no ID token')
    return token
  } catch (error) {
    const detail = redactText(String((error as Error).message ?? error))
      .replace(/\s+/g, ' ')
      .replace(/^Error message: /, '')
      .trim()
    const status = /Error Code : (\d{3})/.exec(detail)?.[1]
    throw new ActionError(`getting a GitHub OIDC token (audience '${audience}'): ${detail}`, {
      hint:
        status === '401' || status === '403'
          ? 'GitHub refused to issue an ID token to this job. Give the job (or the calling workflow) `permissions: id-token: write`; workflows triggered from forks and by Dependabot get no OIDC token — use a client secret there.'
          : 'The runner could not get an ID token from GitHub (ACTIONS_ID_TOKEN_REQUEST_URL). Check the network of the runner (proxies: HTTPS_PROXY / NO_PROXY) and re-run the job; or sign in with a client secret.',
      cause: error
    })
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
