import type { Logger } from '../logger.js'
import type { AccessToken } from './azure-ad.js'
import type { TokenCredential } from './token-credential.js'

/** How soon an early refresh that failed is tried again, at most (sooner as the current token nears expiry). */
const RETRY_REFRESH_MS = 60_000

/**
 * Caches a token and gets a new one before it expires, so a run that outlasts many token lifetimes keeps
 * working. The refresh margin is 5 minutes, or a quarter of the lifetime for short-lived tokens. Concurrent
 * callers share one request. Every token is masked as soon as it arrives. An early refresh that fails (Azure AD
 * unreachable for a while) is no reason to fail a call while the current token is still valid: it is used
 * until it expires, and the refresh is tried again later.
 */
export class CachedCredential implements TokenCredential {
  private current?: { token: string; refreshAtMs: number; expiresOnMs: number }
  private pending?: Promise<string>

  constructor(
    private readonly acquire: () => Promise<AccessToken>,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now
  ) {}

  async getToken(options?: { forceRefresh?: boolean }): Promise<string> {
    const current = this.current
    if (!options?.forceRefresh && current && this.now() < current.refreshAtMs) return current.token
    this.pending ??= this.refresh().finally(() => {
      this.pending = undefined
    })
    // After a 401 (forceRefresh) the current token was refused: there is nothing to fall back to.
    if (options?.forceRefresh || !current) return this.pending
    try {
      return await this.pending
    } catch (error) {
      const now = this.now()
      if (this.current !== current || now >= current.expiresOnMs) throw error
      // Callers that shared the failed refresh: the first one reports it and sets when to try again.
      if (current.refreshAtMs <= now) {
        const left = current.expiresOnMs - now
        current.refreshAtMs = now + Math.min(RETRY_REFRESH_MS, left / 2)
        this.logger.warning(`Could not refresh the Azure AD token (${(error as Error).message}); the current one, valid for another ${Math.round(left / 1000)} s, is used meanwhile.`)
      }
      return current.token
    }
  }

  private async refresh(): Promise<string> {
    const acquiredAt = this.now()
    const fresh = await this.acquire()
    this.logger.mask(fresh.token)
    const lifetime = Math.max(0, fresh.expiresOnMs - acquiredAt)
    const margin = Math.min(5 * 60_000, lifetime / 4)
    this.current = { token: fresh.token, refreshAtMs: fresh.expiresOnMs - margin, expiresOnMs: fresh.expiresOnMs }
    this.logger.debug(`Azure AD token acquired, valid for ${Math.round(lifetime / 1000)} s`)
    return fresh.token
  }
}
