import type { Logger } from '../logger.js'
import type { AccessToken } from './azure-ad.js'
import type { TokenCredential } from './token-credential.js'

/**
 * Caches a token and gets a new one before it expires, so a run that outlasts many token lifetimes keeps
 * working. The refresh margin is 5 minutes, or a quarter of the lifetime for short-lived tokens. Concurrent
 * callers share one request. Every token is masked as soon as it arrives.
 */
export class CachedCredential implements TokenCredential {
  private current?: { token: string; refreshAtMs: number }
  private pending?: Promise<string>

  constructor(
    private readonly acquire: () => Promise<AccessToken>,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now
  ) {}

  async getToken(options?: { forceRefresh?: boolean }): Promise<string> {
    if (!options?.forceRefresh && this.current && this.now() < this.current.refreshAtMs) return this.current.token
    this.pending ??= this.refresh().finally(() => {
      this.pending = undefined
    })
    return this.pending
  }

  private async refresh(): Promise<string> {
    const acquiredAt = this.now()
    const fresh = await this.acquire()
    this.logger.mask(fresh.token)
    const lifetime = Math.max(0, fresh.expiresOnMs - acquiredAt)
    const margin = Math.min(5 * 60_000, lifetime / 4)
    this.current = { token: fresh.token, refreshAtMs: fresh.expiresOnMs - margin }
    this.logger.debug(`Azure AD token acquired, valid for ${Math.round(lifetime / 1000)} s`)
    return fresh.token
  }
}
