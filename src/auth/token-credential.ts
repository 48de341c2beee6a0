/** Anything that hands out Azure AD access tokens for the ARM / Azure ML audience. */
export interface TokenCredential {
  /**
   * A token valid for a while yet. `forceRefresh` skips the cache (used once after a 401).
   * Implementations mask every token they return.
   */
  getToken(options?: { forceRefresh?: boolean }): Promise<string>
}
