import { CachedCredential } from '../auth/cached-credential.js'
import { requestAzureAdToken, type ClientAuthentication } from '../auth/azure-ad.js'
import { federatedAssertion, type IdTokenSource } from '../auth/github-oidc.js'
import { ActionError } from '../errors.js'
import { HostPolicy } from '../http/host-policy.js'
import { Pipeline, type PipelineOptions } from '../http/pipeline.js'
import type { AzureSettings, SubscriptionSettings } from '../settings.js'
import type { Logger } from '../logger.js'
import { ArtifactClient } from './artifacts.js'
import { ExecutionClient } from './execution.js'
import { ModelClient } from './models.js'
import { RunHistoryClient } from './run-history.js'
import type { AzureSession } from './session.js'
import { resolveWorkspace, type ResolvedWorkspace } from './workspace.js'

/** What a session needs from the operation's context. */
export interface SessionContext {
  logger: Logger
  now?: () => number
  pipeline?: Partial<Omit<PipelineOptions, 'logger' | 'hostPolicy'>>
  /** GitHub's ID token, for OIDC sign-in (absent outside a runner). */
  githubIdToken?: IdTokenSource
}

/**
 * The pipeline and Azure AD credential for the given settings. Nothing is sent yet: the first token is
 * requested with the first call that needs it.
 */
export function createSession(azure: Pick<AzureSettings, 'cloud' | 'principal'>, ctx: SessionContext): AzureSession {
  const { logger } = ctx
  const pipeline = new Pipeline({ now: ctx.now, ...ctx.pipeline, logger, hostPolicy: new HostPolicy(azure.cloud) })
  const principal = azure.principal
  let client: () => Promise<ClientAuthentication>
  if (principal.kind === 'secret') {
    client = async () => ({ secret: principal.clientSecret })
  } else {
    if (!ctx.githubIdToken) throw new ActionError('OIDC sign-in needs a GitHub ID token, and none can be requested here')
    client = federatedAssertion(ctx.githubIdToken, principal.audience, logger)
  }
  const credential = new CachedCredential(
    async () =>
      requestAzureAdToken(pipeline, {
        authorityHost: azure.cloud.authorityHost,
        tenantId: principal.tenantId,
        clientId: principal.clientId,
        audience: azure.cloud.tokenAudience,
        client: await client()
      }),
    logger,
    ctx.now
  )
  return { pipeline, auth: { kind: 'aad', credential }, cloud: azure.cloud, tenantId: principal.tenantId }
}

/** The clients of one workspace's services. */
export interface WorkspaceClients {
  session: AzureSession
  workspace: ResolvedWorkspace
  history: RunHistoryClient
  execution: ExecutionClient
  artifacts: ArtifactClient
  models: ModelClient
}

/** Finds the workspace (ARM + discovery) and builds the clients of its data plane. */
export async function connectWorkspace(session: AzureSession, azure: Pick<AzureSettings, 'workspace'>): Promise<WorkspaceClients> {
  const workspace = await resolveWorkspace(session, azure.workspace)
  return {
    session,
    workspace,
    history: new RunHistoryClient(workspace.dataPlane),
    execution: new ExecutionClient(workspace.dataPlane),
    artifacts: new ArtifactClient(workspace.dataPlane),
    models: new ModelClient(workspace.dataPlane)
  }
}

/** Runs `work` with a session and closes the session's sockets afterwards. */
export async function withSession<T>(azure: AzureSettings | SubscriptionSettings, ctx: SessionContext, work: (session: AzureSession) => Promise<T>): Promise<T> {
  const session = createSession(azure, ctx)
  try {
    return await work(session)
  } finally {
    session.pipeline.dispose()
  }
}
