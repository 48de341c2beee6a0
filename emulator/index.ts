import { mkdirSync, mkdtempSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { aadRoutes } from './aad.js'
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
import { EmulatorState, TERMINAL_STATUSES, type MetricRecord, type RunError, type RunStatus } from './state.js'
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
  /** Token audiences ARM and the data plane accept (default: the Azure public cloud's ARM audiences). */
  armAudiences?: readonly string[]
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
  /** The `azure-credentials` JSON (as `az ad sp create-for-rbac --json-auth` prints it) for the demo principal. */
  credentialsJson(): string
  /** A snapshot of a run, or undefined. */
  getRun(runId: string): RunSnapshot | undefined
  /** Changes runtime settings (token lifetime, phase delay, SAS lifetime, provisioning delay) and returns the current ones. */
  configure(change: ConfigChange): Required<ConfigChange>
  /** Makes an unfinished run report `status` for `seconds`, then carry on. */
  holdRun(runId: string, status: 'NotResponding' | 'CancelRequested', seconds: number): void
  /** Kills run processes, closes every connection and removes the temp folder. */
  close(): Promise<void>
}

const DEFAULT_AUDIENCES = ['https://management.azure.com/', 'https://management.azure.com', 'https://management.core.windows.net/', 'https://management.core.windows.net']

/** Starts the local Azure ML service and resolves once it listens. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const settings: Settings = {
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3599,
    runPhaseDelayMs: options.runPhaseDelayMs ?? 150,
    pageSize: options.pageSize ?? 10,
    python: options.python ?? process.env.AZUREML_EMULATOR_PYTHON ?? 'python3',
    maxUploadBytes: options.maxUploadBytes ?? 300 * 1024 * 1024,
    sasLifetimeSeconds: options.sasLifetimeSeconds ?? 3600,
    provisioningDelayMs: options.provisioningDelayMs ?? 1500,
    armAudiences: options.armAudiences ?? DEFAULT_AUDIENCES
  }
  validateSettings(settings)
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'azureml-emulator-'))
  for (const dir of ['artifacts', 'runs', 'uploads']) mkdirSync(path.join(tmp, dir))

  let url = ''
  const baseUrl = (): string => url
  if (options.computes?.some(c => !/^[a-zA-Z][\w-]{1,31}$/.test(c))) throw new Error('computes: each name must be 2-32 letters, digits, - or _, starting with a letter.')
  const state = new EmulatorState(options.computes)
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
    const known = ['tokenLifetimeSeconds', 'runPhaseDelayMs', 'sasLifetimeSeconds', 'provisioningDelayMs']
    const unknown = Object.keys(change).filter(k => !known.includes(k))
    if (unknown.length) throw new Error(`Unknown setting(s) ${unknown.join(', ')}; known: ${known.join(', ')}.`)
    const next = { ...settings, ...change }
    validateSettings(next)
    Object.assign(settings, change)
    return {
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
    ...controlRoutes({ faults, requests, configure, holdRun, getRun }),
    ...discoveryRoutes(),
    ...aadRoutes({ state, tokens, settings, resources: [...settings.armAudiences, 'https://storage.azure.com/', 'https://graph.microsoft.com/', 'https://vault.azure.net'] }),
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
    ...studioRoutes({ state, artifacts }),
    ...servicesRoutes({ ...dataPlane, services }),
    ...scoringRoutes({ services }),
    ...classicRrsRoutes({ services: classic }),
    ...classicBesRoutes({ services: classic, jobs: batchJobs }),
    ...apimRoutes({ services: classic, jobs: batchJobs }),
    ...githubApi.routes()
  )
  const server = createEmulatorServer({ router, faults, requests, location: DEMO.location, baseUrl, log: options.log })
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

  let closing: Promise<void> | undefined
  return {
    url,
    identity: DEMO,
    requests,
    faults,
    services,
    batchJobs,
    github: { apiUrl: `${url}${GITHUB_API_PREFIX}`, api: githubApi },
    getRun,
    configure,
    holdRun,
    credentialsJson: () =>
      JSON.stringify(
        {
          clientId: DEMO.clientId,
          clientSecret: DEMO.clientSecret,
          subscriptionId: DEMO.subscriptionId,
          tenantId: DEMO.tenantId,
          activeDirectoryEndpointUrl: url,
          resourceManagerEndpointUrl: url,
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
