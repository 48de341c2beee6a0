import { mkdirSync, mkdtempSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { aadRoutes } from './aad.js'
import { makeCertificates } from './certificates.js'
import { azureHostNamePatterns, emulatedCloud, type EmulatedCloudName } from './clouds.js'
import { Addressing } from './endpoints.js'
import { startForwardProxy, type ForwardProxy, type ProxiedRequest } from './forward-proxy.js'
import { GITHUB_OIDC_ISSUER, GitHubOidc, type WorkflowJobSpec } from './github-oidc.js'
import { apimRoutes } from './apim.js'
import { GitHubApi, GITHUB_API_PREFIX } from './github-api.js'
import { BatchJobs, classicBesRoutes, type BatchJobSettings } from './classic-bes.js'
import { classicRrsRoutes } from './classic-rrs.js'
import { ClassicServices } from './classic.js'
import { scoringRoutes } from './scoring.js'
import { DeployedServices, servicesRoutes } from './services.js'
import { Access } from './access.js'
import { ArtifactStore } from './artifact-store.js'
import { armRoutes } from './arm.js'
import { artifactRoutes } from './artifacts.js'
import { blobRoutes, BlobSigner } from './blob.js'
import { computeRoutes } from './computes.js'
import { controlRoutes, type ConfigChange } from './control.js'
import { discoveryRoutes } from './discovery.js'
import { executionRoutes } from './execution.js'
import { FaultController } from './faults.js'
import { historyRoutes } from './history.js'
import { Router } from './http.js'
import { DEMO, type DemoIdentity } from './identity.js'
import { modelRoutes } from './models.js'
import { OperationTracker, operationRoutes } from './operations.js'
import { resourceGroupRoutes } from './resource-groups.js'
import { reportedStatus, RunExecutor, type ProcessInfo } from './runner.js'
import { createEmulatorServer, type RequestRecord } from './server.js'
import type { Settings } from './settings.js'
import { EmulatorState, TERMINAL_STATUSES, type FederatedCredential, type MetricRecord, type RunError, type RunStatus } from './state.js'
import { studioRoutes } from './studio.js'
import { TokenService } from './tokens.js'
import { workspaceRoutes } from './workspaces.js'

export { DEMO, type DemoIdentity } from './identity.js'
export { CLASSIC_DEMO } from './classic.js'
export { APIM_DEMO } from './apim.js'
export { DEMO_SERVICE, type DeployedServices } from './services.js'
export type { BatchJobs, BatchJobSettings } from './classic-bes.js'
export { startAzurite, type Azurite } from './azurite.js'
export type { RequestRecord } from './server.js'
export type { FaultController, FaultSpec, FaultKind } from './faults.js'
export type { ConfigChange } from './control.js'
export { EMULATED_CLOUDS, type EmulatedCloudName } from './clouds.js'
export { GITHUB_OIDC_ISSUER, type WorkflowJobSpec } from './github-oidc.js'
export type { ProxiedRequest } from './forward-proxy.js'
export type { FederatedCredential } from './state.js'

/** How to start the local Azure ML service. */
export interface EmulatorOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number
  /** Interface to listen on (default 127.0.0.1; the service is meant for loopback only). */
  host?: string
  /** Lifetime of issued Azure AD tokens (default 3599). */
  tokenLifetimeSeconds?: number
  /** Pause between run status phases (default 150). */
  runPhaseDelayMs?: number
  /** Python interpreter for runs (default $AZUREML_EMULATOR_PYTHON or python3). */
  python?: string
  /** Page size of list endpoints (default 10, small so that clients must page). */
  pageSize?: number
  /** Largest startrun body or artifact upload (default 300 MB; larger → 413). */
  maxUploadBytes?: number
  /** Lifetime of SAS URLs in artifact content info (default 3600). */
  sasLifetimeSeconds?: number
  /** How long workspace and compute creation (and compute deletion) take on ARM (default 1500). */
  provisioningDelayMs?: number
  /** Names of the workspace's AmlCompute clusters (default: the demo's `cpu-cluster`). */
  computes?: readonly string[]
  /** The Azure cloud to stand in for (default AzureCloud): its token audiences, region and host names. */
  cloud?: EmulatedCloudName
  /** Token audiences ARM and the data plane accept (default: the cloud's ARM audiences). */
  armAudiences?: readonly string[]
  /** Lifetime of the GitHub OIDC ID tokens the stand-in for GitHub issues (default 300, as GitHub's). */
  idTokenLifetimeSeconds?: number
  /**
   * Also serve Azure's real host names (login.microsoftonline.com, management.azure.com,
   * {region}.api.azureml.ms, …) over TLS, reached through a forward proxy this starts on loopback: point
   * HTTPS_PROXY at `azureHostNames.proxyUrl` and NODE_EXTRA_CA_CERTS at `azureHostNames.caFile`, and the
   * action needs no endpoint overrides. Needs the `openssl` command.
   */
  azureHostNames?: boolean | { proxyCredentials?: { username: string; password: string } }
  /** Receives a line per request and internal errors (the CLI prints them). */
  log?: (line: string) => void
  /** How many scoring requests after start answer 503, as a cold deployed model does (default 0). */
  scoringColdStartRequests?: number
  /** Classic batch jobs: status codes as names or numbers, how long a job runs. */
  batchJobs?: Partial<BatchJobSettings>
}

/** A run as tests may inspect it (a copy; it does not change afterwards). */
export interface RunSnapshot {
  runId: string
  experimentName: string
  /** What clients see (a hold's status while it lasts). */
  status: RunStatus
  /** The real status underneath a hold. */
  actualStatus: RunStatus
  statusHistory: Array<{ status: RunStatus; time: string }>
  target: string | null
  error: RunError | null
  tags: Record<string, string>
  properties: Record<string, string>
  metrics: MetricRecord[]
  createdUtc: string
  startTimeUtc: string | null
  endTimeUtc: string | null
  /** The run's Python process, once started. */
  process?: ProcessInfo
  /** Artifact paths of the run's container. */
  artifacts: string[]
}

/** A running local Azure ML service. */
export interface Emulator {
  /** http://host:port, no trailing slash: the authority host, ARM endpoint and every regional service. */
  readonly url: string
  readonly identity: DemoIdentity
  /** Every Azure request so far (control API calls excluded), in arrival order. Live array. */
  readonly requests: RequestRecord[]
  readonly faults: FaultController
  /** Deployed models (the scoring endpoints), seeded with demo-scorer. */
  readonly services: DeployedServices
  /** Classic Studio batch jobs (settings and running jobs). */
  readonly batchJobs: BatchJobs
  /** The stand-in for GitHub's REST API (pull request comments): its URL (GITHUB_API_URL), token and comments. */
  readonly github: { apiUrl: string; api: GitHubApi }
  /** The stand-in for GitHub's OIDC provider and the app's federated credentials (workload identity federation). */
  readonly oidc: OidcControl
  /** With `azureHostNames`: the proxy to go through and the CA to trust. */
  readonly azureHostNames?: AzureHostNames
  /**
   * The `azure-credentials` JSON (as `az ad sp create-for-rbac --json-auth` prints it) for the demo principal;
   * with `endpoints: false` without the endpoint fields (for clients that use Azure's host names).
   */
  credentialsJson(options?: { endpoints?: boolean }): string
  /** A snapshot of a run, or undefined. */
  getRun(runId: string): RunSnapshot | undefined
  /** Changes runtime settings (token lifetime, phase delay, SAS lifetime, provisioning delay) and returns the current ones. */
  configure(change: ConfigChange): Required<ConfigChange>
  /** Makes an unfinished run report `status` for `seconds`, then carry on. */
  holdRun(runId: string, status: 'NotResponding' | 'CancelRequested', seconds: number): void
  /** Kills run processes, closes every connection and removes the temp folder. */
  close(): Promise<void>
}

/** A workflow job's OIDC environment: what the runner sets when the job has `permissions: id-token: write`. */
export interface OidcJob {
  /** ACTIONS_ID_TOKEN_REQUEST_URL (on the loopback origin, or GitHub's host name with `azureHostNames`). */
  requestUrl: string
  /** ACTIONS_ID_TOKEN_REQUEST_TOKEN */
  requestToken: string
  /** The `sub` claim of its ID tokens, what a federated credential must name. */
  subject: string
  /** Both variables, ready for a step's environment. */
  env: { ACTIONS_ID_TOKEN_REQUEST_URL: string; ACTIONS_ID_TOKEN_REQUEST_TOKEN: string }
}

/** Workload identity federation on the local service. */
export interface OidcControl {
  /** The issuer of the ID tokens (GitHub's: https://token.actions.githubusercontent.com). */
  readonly issuer: string
  /** The demo job: octo-org/ml-repo on refs/heads/main, pushed — trusted by the demo app's federated credential. */
  readonly demoJob: OidcJob
  /** Registers another workflow job (a pull request, an environment, another repository, …). */
  job(spec: WorkflowJobSpec): OidcJob
  /** Adds a federated credential to an app (default: the demo app); issuer defaults to GitHub's, audiences to the cloud's. */
  addFederatedCredential(credential: { name: string; subject: string; issuer?: string; audiences?: string[] }, clientId?: string): void
  /** The federated credentials of an app (default: the demo app). */
  federatedCredentials(clientId?: string): FederatedCredential[]
  /** How many ID tokens have been issued. */
  readonly issuedCount: number
}

/** The TLS side of the local service, for clients that use Azure's host names. */
export interface AzureHostNames {
  /** HTTPS_PROXY for the client: a forward proxy that tunnels Azure's host names to the local service. */
  proxyUrl: string
  /** NODE_EXTRA_CA_CERTS for the client: the CA of the local service's certificate. */
  caFile: string
  /** The TLS port (reached through the proxy; also directly as https://127.0.0.1:port or https://0.0.0.0:port). */
  port: number
  /** What went through the proxy. Live array. */
  proxied: ProxiedRequest[]
  /** The service's key and certificate files (valid for 127.0.0.1 and 0.0.0.0 too), e.g. for Azurite over https. */
  certificate: { keyFile: string; certFile: string }
  /** HTTPS_PROXY and NODE_EXTRA_CA_CERTS, ready for a step's environment. */
  env: { HTTPS_PROXY: string; NODE_EXTRA_CA_CERTS: string }
}

/** Starts the local Azure ML service and resolves once it listens. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const cloud = emulatedCloud(options.cloud)
  const settings: Settings = {
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3599,
    runPhaseDelayMs: options.runPhaseDelayMs ?? 150,
    pageSize: options.pageSize ?? 10,
    python: options.python ?? process.env.AZUREML_EMULATOR_PYTHON ?? 'python3',
    maxUploadBytes: options.maxUploadBytes ?? 300 * 1024 * 1024,
    sasLifetimeSeconds: options.sasLifetimeSeconds ?? 3600,
    provisioningDelayMs: options.provisioningDelayMs ?? 1500,
    armAudiences: options.armAudiences ?? cloud.armAudiences
  }
  validateSettings(settings)
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'azureml-emulator-'))
  for (const dir of ['artifacts', 'runs', 'uploads']) mkdirSync(path.join(tmp, dir))

  let url = ''
  const baseUrl = (): string => url
  if (options.computes?.some(c => !/^[a-zA-Z][\w-]{1,31}$/.test(c))) throw new Error('computes: each name must be 2-32 letters, digits, - or _, starting with a letter.')
  const state = new EmulatorState({ computes: options.computes, location: cloud.region })
  const oidc = new GitHubOidc(options.idTokenLifetimeSeconds ?? 300)
  const addressing = new Addressing(cloud, baseUrl)
  let hostNames: (AzureHostNames & { close(): Promise<void> }) | undefined
  const oidcJob = (spec: WorkflowJobSpec): OidcJob => {
    const job = oidc.job(spec)
    const requestUrl = `${hostNames ? addressing.azureHostNames().idTokenRequests : url}${job.requestPath}`
    return { requestUrl, requestToken: job.requestToken, subject: job.subject, env: { ACTIONS_ID_TOKEN_REQUEST_URL: requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: job.requestToken } }
  }
  const principalOf = (clientId: string = DEMO.clientId) => {
    const principal = state.tenant(DEMO.tenantId)?.principals.get(clientId.toLowerCase())
    if (!principal) throw new Error(`There is no app '${clientId}' in the demo tenant.`)
    return principal
  }
  const addFederatedCredential: OidcControl['addFederatedCredential'] = (credential, clientId) => {
    if (!credential.name || !credential.subject) throw new Error('A federated credential needs a name and a subject.')
    principalOf(clientId).federatedCredentials.push({
      name: credential.name,
      issuer: credential.issuer ?? GITHUB_OIDC_ISSUER,
      subject: credential.subject,
      audiences: credential.audiences ?? [cloud.oidcAudience]
    })
  }
  const tokens = new TokenService()
  const access = new Access(tokens, state, settings.armAudiences)
  const artifacts = new ArtifactStore(path.join(tmp, 'artifacts'))
  const blob = new BlobSigner(settings)
  const runner = new RunExecutor({
    settings,
    artifacts,
    tokens,
    runsDir: path.join(tmp, 'runs'),
    pythonPath: fileURLToPath(new URL('./python/', import.meta.url)),
    baseUrl
  })
  const faults = new FaultController()
  const operations = new OperationTracker(settings)
  const requests: RequestRecord[] = []
  const dataPlane = { state, access, settings, artifacts, blob, runner }
  const services = new DeployedServices({ coldStartRequests: options.scoringColdStartRequests })
  const classic = new ClassicServices()
  const batchJobs = new BatchJobs(options.batchJobs)
  const githubApi = new GitHubApi()

  const getRun = (runId: string): RunSnapshot | undefined => {
    const run = state.findRun(runId)
    if (!run) return undefined
    return structuredClone({
      runId: run.runId,
      experimentName: run.experiment.name,
      status: reportedStatus(run),
      actualStatus: run.status,
      statusHistory: run.statusHistory,
      target: run.target,
      error: run.error,
      tags: run.tags,
      properties: run.properties,
      metrics: run.metrics,
      createdUtc: run.createdUtc,
      startTimeUtc: run.startTimeUtc,
      endTimeUtc: run.endTimeUtc,
      process: runner.processInfo(runId),
      artifacts: artifacts.list(run.workspace.workspaceId, 'ExperimentRun', run.dataContainerId).map(a => a.path)
    })
  }
  const configure = (change: ConfigChange): Required<ConfigChange> => {
    const known = ['tokenLifetimeSeconds', 'runPhaseDelayMs', 'sasLifetimeSeconds', 'provisioningDelayMs', 'idTokenLifetimeSeconds']
    const unknown = Object.keys(change).filter(k => !known.includes(k))
    if (unknown.length) throw new Error(`Unknown setting(s) ${unknown.join(', ')}; known: ${known.join(', ')}.`)
    const { idTokenLifetimeSeconds, ...rest } = change
    const next = { ...settings, ...rest }
    validateSettings(next)
    if (idTokenLifetimeSeconds !== undefined) {
      if (!Number.isInteger(idTokenLifetimeSeconds) || idTokenLifetimeSeconds < 1) throw new Error(`idTokenLifetimeSeconds must be an integer >= 1 (got ${String(idTokenLifetimeSeconds)}).`)
      oidc.lifetimeSeconds = idTokenLifetimeSeconds
    }
    Object.assign(settings, rest)
    return {
      idTokenLifetimeSeconds: oidc.lifetimeSeconds,
      tokenLifetimeSeconds: settings.tokenLifetimeSeconds,
      runPhaseDelayMs: settings.runPhaseDelayMs,
      sasLifetimeSeconds: settings.sasLifetimeSeconds,
      provisioningDelayMs: settings.provisioningDelayMs
    }
  }
  const holdRun = (runId: string, status: 'NotResponding' | 'CancelRequested', seconds: number): void => {
    const run = state.findRun(runId)
    if (!run) throw new Error(`There is no run '${runId}'.`)
    if (TERMINAL_STATUSES.includes(run.status)) throw new Error(`Run '${runId}' has already finished (${run.status}); only an unfinished run can be held.`)
    runner.hold(run, status, seconds)
  }

  const router = new Router()
  router.add(
    ...controlRoutes({
      faults,
      requests,
      configure,
      holdRun,
      getRun,
      githubJob: spec => oidcJob(spec),
      addFederatedCredential,
      federatedCredentials: clientId => principalOf(clientId).federatedCredentials
    }),
    ...discoveryRoutes({ access }),
    ...aadRoutes({ state, tokens, settings, oidc, resources: [...settings.armAudiences, 'https://storage.azure.com/', 'https://graph.microsoft.com/', 'https://vault.azure.net'] }),
    ...armRoutes({ state, access, settings }),
    ...resourceGroupRoutes({ state, access, settings }),
    ...workspaceRoutes({ state, access, settings, operations }),
    ...computeRoutes({ state, access, settings, operations }),
    ...operationRoutes({ state, access, operations }),
    ...historyRoutes(dataPlane),
    ...executionRoutes({ ...dataPlane, uploadsDir: path.join(tmp, 'uploads') }),
    ...artifactRoutes(dataPlane),
    ...modelRoutes(dataPlane),
    ...blobRoutes({ state, artifacts, signer: blob }),
    ...studioRoutes({ state, artifacts, access, tokens, settings }),
    ...servicesRoutes({ ...dataPlane, services }),
    ...scoringRoutes({ services }),
    ...classicRrsRoutes({ services: classic }),
    ...classicBesRoutes({ services: classic, jobs: batchJobs }),
    ...apimRoutes({ services: classic, jobs: batchJobs }),
    ...githubApi.routes(),
    ...oidc.routes()
  )
  const serverDeps = { router, faults, requests, location: cloud.region, addressing, log: options.log }
  const server = createEmulatorServer(serverDeps)
  const host = options.host ?? '127.0.0.1'
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
  const { port } = server.address() as AddressInfo
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  if (options.azureHostNames) {
    try {
      hostNames = await serveAzureHostNames(serverDeps, tmp, addressing, batchJobs, typeof options.azureHostNames === 'object' ? options.azureHostNames : {})
    } catch (err) {
      server.close()
      await rm(tmp, { recursive: true, force: true })
      throw err
    }
  }
  addFederatedCredential({ name: 'github-octo-org-ml-repo-main', subject: 'repo:octo-org/ml-repo:ref:refs/heads/main' })
  const demoJob = oidcJob({ repository: 'octo-org/ml-repo', ref: 'refs/heads/main', eventName: 'push' })

  let closing: Promise<void> | undefined
  return {
    url,
    identity: DEMO,
    requests,
    faults,
    services,
    batchJobs,
    github: { apiUrl: `${url}${GITHUB_API_PREFIX}`, api: githubApi },
    oidc: {
      issuer: GITHUB_OIDC_ISSUER,
      demoJob,
      job: oidcJob,
      addFederatedCredential,
      federatedCredentials: clientId => structuredClone(principalOf(clientId).federatedCredentials),
      get issuedCount() {
        return oidc.issuedCount
      }
    },
    azureHostNames: hostNames && { proxyUrl: hostNames.proxyUrl, caFile: hostNames.caFile, port: hostNames.port, proxied: hostNames.proxied, certificate: hostNames.certificate, env: hostNames.env },
    getRun,
    configure,
    holdRun,
    credentialsJson: ({ endpoints = true } = {}) =>
      JSON.stringify(
        {
          clientId: DEMO.clientId,
          clientSecret: DEMO.clientSecret,
          subscriptionId: DEMO.subscriptionId,
          tenantId: DEMO.tenantId,
          ...(endpoints ? { activeDirectoryEndpointUrl: url, resourceManagerEndpointUrl: url } : {}),
          activeDirectoryGraphResourceId: 'https://graph.windows.net/',
          sqlManagementEndpointUrl: 'https://management.core.windows.net:8443/',
          galleryEndpointUrl: 'https://gallery.azure.com/',
          managementEndpointUrl: 'https://management.core.windows.net/'
        },
        null,
        2
      ),
    close: () =>
      (closing ??= (async () => {
        operations.close()
        await runner.close()
        await batchJobs.close()
        await hostNames?.close()
        await new Promise<void>(resolve => {
          server.close(() => resolve())
          server.closeAllConnections()
        })
        await rm(tmp, { recursive: true, force: true, maxRetries: 3 })
      })())
  }
}

function validateSettings(s: Settings): void {
  const check = (name: string, value: number, min: number): void => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min} (got ${String(value)}).`)
  }
  check('tokenLifetimeSeconds', s.tokenLifetimeSeconds, 1)
  check('runPhaseDelayMs', s.runPhaseDelayMs, 0)
  check('pageSize', s.pageSize, 1)
  check('maxUploadBytes', s.maxUploadBytes, 1)
  check('sasLifetimeSeconds', s.sasLifetimeSeconds, 0)
  check('provisioningDelayMs', s.provisioningDelayMs, 0)
}

/**
 * The TLS listener for Azure's host names and the forward proxy that leads there: the proxy tunnels the
 * emulated cloud's (and GitHub's) host names on port 443 to the TLS port, loopback addresses (and 0.0.0.0) to
 * the port asked for, and refuses every other host as if its name did not resolve.
 */
async function serveAzureHostNames(
  deps: Parameters<typeof createEmulatorServer>[0],
  tmp: string,
  addressing: Addressing,
  batchJobs: BatchJobs,
  options: { proxyCredentials?: { username: string; password: string } }
): Promise<AzureHostNames & { close(): Promise<void> }> {
  const folder = path.join(tmp, 'tls')
  mkdirSync(folder)
  // localhost too: the service is on loopback (and some TLS clients check IP addresses against it).
  const certificates = await makeCertificates(folder, [...azureHostNamePatterns(), 'localhost'])
  // Batch jobs read and write storage that may be served with this certificate (Azurite over https).
  batchJobs.trust(certificates.ca)
  const tlsServer = createEmulatorServer(deps, certificates)
  await new Promise<void>((resolve, reject) => {
    tlsServer.once('error', reject)
    tlsServer.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (tlsServer.address() as AddressInfo).port
  let proxy: ForwardProxy
  try {
    proxy = await startForwardProxy({
      credentials: options.proxyCredentials,
      route: (host, targetPort) => {
        if (/^(127(\.\d{1,3}){3}|0\.0\.0\.0|localhost|::1)$/i.test(host)) return { host: '127.0.0.1', port: targetPort }
        return targetPort === 443 && addressing.serves(host) ? { host: '127.0.0.1', port } : undefined
      }
    })
  } catch (err) {
    tlsServer.close()
    throw err
  }
  const credentials = options.proxyCredentials
  const proxyUrl = credentials ? proxy.url.replace('//', `//${encodeURIComponent(credentials.username)}:${encodeURIComponent(credentials.password)}@`) : proxy.url
  return {
    proxyUrl,
    caFile: certificates.caFile,
    port,
    proxied: proxy.requests,
    certificate: { keyFile: certificates.keyFile, certFile: certificates.certFile },
    env: { HTTPS_PROXY: proxyUrl, NODE_EXTRA_CA_CERTS: certificates.caFile },
    close: async () => {
      await proxy.close()
      await new Promise<void>(resolve => {
        tlsServer.close(() => resolve())
        tlsServer.closeAllConnections()
      })
    }
  }
}
