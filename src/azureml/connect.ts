import { CachedCredential } from '../auth/cached-credential.js'
import { requestAzureAdToken } from '../auth/azure-ad.js'
import { HostPolicy } from '../http/host-policy.js'
import { Pipeline, type PipelineOptions } from '../http/pipeline.js'
import type { AzureSettings } from '../inputs.js'
import type { Logger } from '../logger.js'
import { ArtifactClient } from './artifacts.js'
import { ExecutionClient } from './execution.js'
import { RunHistoryClient } from './run-history.js'
import type { AzureSession } from './session.js'
import { resolveWorkspace, type ResolvedWorkspace } from './workspace.js'

/**
 * The pipeline and Azure AD credential for the given settings. Nothing is sent yet: the first token is
 * requested with the first call that needs it.
 */
export function createSession(azure: AzureSettings, logger: Logger, options: Partial<Omit<PipelineOptions, 'logger' | 'hostPolicy'>> = {}): AzureSession {
  const pipeline = new Pipeline({ ...options, logger, hostPolicy: new HostPolicy(azure.cloud) })
  const principal = azure.principal
  if (principal.kind !== 'secret') throw new Error('only client-secret sign-in is wired up')
  const credential = new CachedCredential(
    () =>
      requestAzureAdToken(pipeline, {
        authorityHost: azure.cloud.authorityHost,
        tenantId: principal.tenantId,
        clientId: principal.clientId,
        audience: azure.cloud.tokenAudience,
        client: { secret: principal.clientSecret }
      }),
    logger,
    options.now
  )
  return { pipeline, auth: { kind: 'aad', credential }, cloud: azure.cloud, tenantId: principal.tenantId }
}

/** The clients of one workspace's run services. */
export interface WorkspaceClients {
  session: AzureSession
  workspace: ResolvedWorkspace
  history: RunHistoryClient
  execution: ExecutionClient
  artifacts: ArtifactClient
}

/** Finds the workspace (ARM + discovery) and builds the clients of its data plane. */
export async function connectWorkspace(session: AzureSession, azure: AzureSettings): Promise<WorkspaceClients> {
  const workspace = await resolveWorkspace(session, azure.workspace)
  return {
    session,
    workspace,
    history: new RunHistoryClient(workspace.dataPlane),
    execution: new ExecutionClient(workspace.dataPlane),
    artifacts: new ArtifactClient(workspace.dataPlane)
  }
}
