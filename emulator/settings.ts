/** Settings of one emulator instance; the mutable ones change through the control API. */
export interface Settings {
  /** Lifetime of Azure AD access tokens issued from now on. */
  tokenLifetimeSeconds: number
  /** Pause between run status phases. */
  runPhaseDelayMs: number
  /** Page size of every list endpoint. */
  pageSize: number
  /** The Python interpreter runs use. */
  python: string
  /** The largest startrun or artifact upload accepted (413 above). */
  maxUploadBytes: number
  /** Lifetime of the SAS in artifact content URLs (Azure ML gives about an hour). */
  sasLifetimeSeconds: number
  /** How long ARM takes to provision a workspace or compute, or delete a compute (long-running operations). */
  provisioningDelayMs: number
  /** Audiences ARM and the data plane accept (per cloud). */
  armAudiences: readonly string[]
}
