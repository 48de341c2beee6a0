import { generateKeyPairSync, randomBytes, randomUUID, sign, verify, type KeyObject } from 'node:crypto'
import { json, type Reply, type RequestContext, type Route } from './http.js'

/** The issuer of GitHub Actions ID tokens, as federated credentials name it. */
export const GITHUB_OIDC_ISSUER = 'https://token.actions.githubusercontent.com'

/**
 * The path of a job's ID-token request URL (ACTIONS_ID_TOKEN_REQUEST_URL), as the runner gets it from
 * GitHub: `/{scope}/{project}/_apis/distributedtask/hubs/Actions/plans/{plan}/jobs/{job}/idtoken`.
 */
const ID_TOKEN_PATTERN = '/{scope}/{project}/_apis/distributedtask/hubs/Actions/plans/{plan}/jobs/{job}/idtoken'

/** The workflow job a runner asks for ID tokens on behalf of: what the token's claims say about it. */
export interface WorkflowJobSpec {
  /** owner/name */
  repository: string
  /** e.g. refs/heads/main (default), refs/tags/v1, refs/pull/7/merge */
  ref?: string
  /** push (default), pull_request, schedule, workflow_dispatch, … */
  eventName?: string
  /** The job's deployment environment, if it has one: the subject then names it instead of the ref. */
  environment?: string
  /** The workflow file, for workflow_ref / job_workflow_ref (default train.yml). */
  workflowFile?: string
  sha?: string
  actor?: string
  runId?: string
}

/** A job the issuer knows: its ID-token request URL path and the bearer token the runner sends there. */
export interface WorkflowJob {
  spec: Required<Omit<WorkflowJobSpec, 'environment'>> & { environment?: string }
  /** What federated credentials must name as `subject` to trust this job's tokens. */
  subject: string
  /** Path and query of ACTIONS_ID_TOKEN_REQUEST_URL (append it to the host). */
  requestPath: string
  /** ACTIONS_ID_TOKEN_REQUEST_TOKEN. */
  requestToken: string
}

/** The claims of a GitHub Actions ID token (the ones federated credentials and people look at). */
export interface GitHubIdTokenClaims {
  iss: string
  sub: string
  aud: string
  jti: string
  iat: number
  nbf: number
  exp: number
  repository: string
  repository_owner: string
  ref: string
  sha: string
  event_name: string
  environment?: string
  workflow_ref: string
  job_workflow_ref: string
  actor: string
  run_id: string
  [claim: string]: unknown
}

/** Why an ID token was refused. */
export type IdTokenCheck = { ok: true; claims: GitHubIdTokenClaims } | { ok: false; problem: 'malformed' | 'signature'; claims?: Partial<GitHubIdTokenClaims> }

/**
 * A stand-in for GitHub's OIDC provider: hands out RS256 ID tokens to the jobs it knows (the request the
 * runner's `core.getIDToken()` makes with ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN), publishes its keys at the
 * issuer's `/.well-known/` documents, and checks signatures for the local Azure AD. The key pair is made at
 * start, so only this instance can mint a token its Azure AD accepts.
 */
export class GitHubOidc {
  private readonly privateKey: KeyObject
  private readonly publicKey: KeyObject
  private readonly kid = randomBytes(16).toString('hex').toUpperCase()
  private readonly jobs = new Map<string, WorkflowJob>()
  private issued = 0
  /** Lifetime of ID tokens issued from now on (GitHub's are valid for 5 minutes). */
  lifetimeSeconds: number

  constructor(lifetimeSeconds = 300) {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 })
    this.privateKey = pair.privateKey
    this.publicKey = pair.publicKey
    this.lifetimeSeconds = lifetimeSeconds
  }

  /** Registers a workflow job and returns where and how its runner asks for ID tokens. */
  job(spec: WorkflowJobSpec): WorkflowJob {
    if (!/^[\w.-]+\/[\w.-]+$/.test(spec.repository ?? '')) throw new Error(`repository must be owner/name (got '${String(spec.repository)}').`)
    const full = {
      repository: spec.repository,
      ref: spec.ref ?? 'refs/heads/main',
      eventName: spec.eventName ?? 'push',
      environment: spec.environment || undefined,
      workflowFile: spec.workflowFile ?? 'train.yml',
      sha: spec.sha ?? '0123456789abcdef0123456789abcdef01234567',
      actor: spec.actor ?? 'octocat',
      runId: spec.runId ?? '4242'
    }
    const plan = randomUUID()
    const jobId = randomUUID()
    const job: WorkflowJob = {
      spec: full,
      subject: subjectOf(full),
      requestPath: `/${randomBytes(12).toString('base64url')}/00000000-0000-0000-0000-000000000000/_apis/distributedtask/hubs/Actions/plans/${plan}/jobs/${jobId}/idtoken?api-version=2.0`,
      // Signed without the ID tokens' kid: a request token is never accepted as an ID token.
      requestToken: this.signJwt({ typ: 'JWT', alg: 'RS256', x5t: 'runner-request' }, { scp: `Actions.Results:${plan}:${jobId} IdToken.Write`, job: jobId, iat: now(), exp: now() + 6 * 3600 })
    }
    this.jobs.set(jobId, job)
    return job
  }

  /** An ID token for the job with this audience (what GitHub answers the runner). */
  issue(job: WorkflowJob, audience: string, nowMs = Date.now()): string {
    const iat = Math.floor(nowMs / 1000)
    const s = job.spec
    const workflowRef = `${s.repository}/.github/workflows/${s.workflowFile}@${s.ref}`
    const claims: GitHubIdTokenClaims = {
      jti: randomUUID(),
      sub: job.subject,
      aud: audience,
      ref: s.ref,
      sha: s.sha,
      repository: s.repository,
      repository_owner: s.repository.split('/')[0],
      run_id: s.runId,
      run_attempt: '1',
      actor: s.actor,
      workflow: s.workflowFile.replace(/\.ya?ml$/, ''),
      event_name: s.eventName,
      ref_type: s.ref.startsWith('refs/tags/') ? 'tag' : 'branch',
      ...(s.environment ? { environment: s.environment } : {}),
      workflow_ref: workflowRef,
      job_workflow_ref: workflowRef,
      runner_environment: 'github-hosted',
      iss: GITHUB_OIDC_ISSUER,
      iat,
      nbf: iat,
      exp: iat + this.lifetimeSeconds
    }
    this.issued++
    return this.signJwt({ typ: 'JWT', alg: 'RS256', x5t: this.kid, kid: this.kid }, claims)
  }

  /** Checks an ID token's shape and signature against this issuer's key (lifetime and claims are Azure AD's business). */
  verify(token: string): IdTokenCheck {
    const parts = token.split('.')
    if (parts.length !== 3 || parts.some(p => !/^[A-Za-z0-9_-]+$/.test(p))) return { ok: false, problem: 'malformed' }
    let header: { alg?: unknown; kid?: unknown }
    let claims: GitHubIdTokenClaims
    try {
      header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as typeof header
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as GitHubIdTokenClaims
    } catch {
      return { ok: false, problem: 'malformed' }
    }
    if (typeof claims !== 'object' || claims === null) return { ok: false, problem: 'malformed' }
    const signed = header.alg === 'RS256' && header.kid === this.kid && verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), this.publicKey, Buffer.from(parts[2], 'base64url'))
    return signed ? { ok: true, claims } : { ok: false, problem: 'signature', claims }
  }

  /** How many ID tokens were handed out (each Azure AD sign-in needs a fresh one). */
  get issuedCount(): number {
    return this.issued
  }

  /**
   * The ID-token request route (what ACTIONS_ID_TOKEN_REQUEST_URL points at) and the issuer's discovery
   * documents (`jwks_uri` on the host the request came to).
   */
  routes(): Route[] {
    const route = (method: string, pattern: string, handler: (ctx: RequestContext) => Reply): Route => ({ method, pattern, service: 'control', handler })
    return [
      route('GET', ID_TOKEN_PATTERN, ctx => this.idTokenRequest(ctx)),
      route('GET', '/.well-known/openid-configuration', ctx =>
        json(200, {
          issuer: GITHUB_OIDC_ISSUER,
          jwks_uri: `${ctx.baseUrl}/.well-known/jwks`,
          subject_types_supported: ['public', 'pairwise'],
          response_types_supported: ['id_token'],
          claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'ref', 'repository', 'repository_owner', 'run_id', 'actor', 'workflow', 'event_name', 'ref_type', 'environment', 'job_workflow_ref'],
          id_token_signing_alg_values_supported: ['RS256'],
          scopes_supported: ['openid']
        })
      ),
      route('GET', '/.well-known/jwks', () => {
        const jwk = this.publicKey.export({ format: 'jwk' })
        return json(200, { keys: [{ kty: 'RSA', alg: 'RS256', use: 'sig', kid: this.kid, x5t: this.kid, n: jwk.n, e: jwk.e }] })
      })
    ]
  }

  private idTokenRequest(ctx: RequestContext): Reply {
    const job = this.jobs.get(ctx.params.job)
    const given = /^Bearer\s+(\S+)$/i.exec(ctx.req.headers.authorization ?? '')?.[1]
    if (!job || given !== job.requestToken) {
      return json(401, { message: 'TF400813: The user is not authorized to access this resource.', typeName: 'Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException', typeKey: 'UnauthorizedRequestException', errorCode: 0 })
    }
    if (ctx.query.get('api-version') === null) {
      return json(400, { message: 'No api-version was supplied for the "GET" request.', typeKey: 'VssInvalidApiVersionException', errorCode: 0 })
    }
    ctx.authenticatedAs = 'github-job'
    // Without `audience` GitHub uses the URL of the repository owner.
    const audience = ctx.query.get('audience') || `https://github.com/${job.spec.repository.split('/')[0]}`
    return json(200, { count: this.issued + 1, value: this.issue(job, audience) })
  }

  private signJwt(header: Record<string, unknown>, payload: Record<string, unknown>): string {
    const input = `${b64url(header)}.${b64url(payload)}`
    return `${input}.${sign('sha256', Buffer.from(input), this.privateKey).toString('base64url')}`
  }
}

/** The `sub` claim GitHub gives a job: its environment, else `pull_request`, else its ref. */
export function subjectOf(spec: { repository: string; ref: string; eventName: string; environment?: string }): string {
  if (spec.environment) return `repo:${spec.repository}:environment:${spec.environment}`
  if (spec.eventName === 'pull_request' || spec.eventName === 'pull_request_target') return `repo:${spec.repository}:pull_request`
  return `repo:${spec.repository}:ref:${spec.ref}`
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')
}

function now(): number {
  return Math.floor(Date.now() / 1000)
}
