import { randomBytes, randomUUID } from 'node:crypto'
import { nextLink, queryParam, resolveWorkspace, workspacePrefix, type DataPlaneDeps } from './data-plane.js'
import { modelError } from './errors.js'
import { json, type Reply, type RequestContext, type Route } from './http.js'
import { DEMO } from './identity.js'
import { paginate } from './paging.js'

/** The states model management reports for a web service (the swagger's WebServiceState). */
export type ServiceState = 'Transitioning' | 'Healthy' | 'Unhealthy' | 'Failed'

/** Where a deployed model runs; the scoring URI's shape follows it. */
export type ServiceComputeType = 'ACI' | 'AKS'

/** The model behind a deployed service: a logistic regression over two features (examples/train.py's x0, x1). */
export interface LogisticModel {
  name: string
  version: number
  weights: readonly [number, number]
  bias: number
}

/** A web service deployed from a registered model, as model management and the scoring front end see it. */
export interface DeployedService {
  /** The workspace (its `workspaceId`) the service belongs to. */
  workspaceId: string
  /** Also its id: model management addresses services by name. */
  name: string
  description: string | null
  computeType: ServiceComputeType
  state: ServiceState
  createdTime: string
  updatedTime: string
  operationId: string
  kvTags: Record<string, string>
  properties: Record<string, string>
  location: string
  authEnabled: boolean
  keys: { primaryKey: string; secondaryKey: string }
  model: LogisticModel
  /** What its scoring script answers: JSON (`{predictions, probabilities}`) or CSV text. */
  answer: ScoringAnswer
  /** Scoring requests still to be answered 503, as a container that has just started does. */
  coldStartRemaining: number
  /** Creation order, to sort services created within the same millisecond. */
  seq: number
}

/**
 * The body a scoring script returns. Most return a JSON-serializable value (the inference server answers
 * `application/json`); a script may instead return `AMLResponse(text, 200, {'Content-Type': 'text/csv'})`.
 */
export type ScoringAnswer = 'json' | 'text'

/** What {@link DeployedServices.deploy} takes; everything but the name has a default. */
export interface DeployServiceSpec {
  name: string
  /** Default: the demo workspace. */
  workspaceId?: string
  computeType?: ServiceComputeType
  description?: string
  kvTags?: Record<string, string>
  properties?: Record<string, string>
  authEnabled?: boolean
  model?: Partial<LogisticModel>
  /** Default 'json'. */
  answer?: ScoringAnswer
  location?: string
  /** Scoring requests answered 503 before the service answers (default: the registry's setting). */
  coldStartRequests?: number
}

/** Options of the registry. */
export interface DeployedServicesOptions {
  /** Seed the demo services (default true). */
  seed?: boolean
  /** How many scoring requests each new service answers 503 first, like a cold container (default 0). */
  coldStartRequests?: number
}

/** The demo service every emulator starts with: the model examples/train.py learns, deployed to ACI. */
export const DEMO_SERVICE = {
  name: 'demo-scorer',
  computeType: 'ACI',
  model: { name: 'demo-model', version: 1, weights: [2.5, 2.5], bias: -2.5 }
} as const satisfies DeployServiceSpec

/** A second demo service: the same model, whose scoring script answers CSV text instead of JSON. */
export const DEMO_TEXT_SERVICE = {
  name: 'demo-text-scorer',
  computeType: 'ACI',
  answer: 'text',
  description: 'The demo model; its scoring script answers CSV text (prediction,probability per row).'
} as const satisfies DeployServiceSpec

// Azure ML's rule for web service names (the SDK checks it before deploying).
const SERVICE_NAME = /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/

/**
 * The web services deployed in each workspace. Kept apart from EmulatorState because only model management
 * and the scoring front end read it; keys are made per instance, so a key from one emulator opens nothing else.
 */
export class DeployedServices {
  private readonly services = new Map<string, DeployedService>()
  private nextSeq = 0
  private readonly coldStartRequests: number

  constructor(options: DeployedServicesOptions = {}) {
    this.coldStartRequests = options.coldStartRequests ?? 0
    if (!Number.isInteger(this.coldStartRequests) || this.coldStartRequests < 0) throw new Error('coldStartRequests must be an integer >= 0.')
    if (options.seed ?? true) {
      this.deploy(DEMO_SERVICE)
      this.deploy(DEMO_TEXT_SERVICE)
    }
  }

  /** Deploys a service (Healthy at once) and returns it; a name already taken is an error. */
  deploy(spec: DeployServiceSpec): DeployedService {
    if (!SERVICE_NAME.test(spec.name)) throw new Error(`Service name '${spec.name}' is not valid: 3-32 lower-case letters, digits or dashes, starting with a letter and not ending with a dash.`)
    // Scoring URIs carry only the name, so it must be unique across workspaces here (Azure's DNS names are too).
    if (this.services.has(spec.name)) throw new Error(`A service named '${spec.name}' already exists.`)
    const now = new Date().toISOString()
    const model: LogisticModel = { name: 'demo-model', version: 1, weights: [2.5, 2.5], bias: -2.5, ...spec.model }
    const service: DeployedService = {
      workspaceId: spec.workspaceId ?? DEMO.workspaceId,
      name: spec.name,
      description: spec.description ?? null,
      computeType: spec.computeType ?? 'ACI',
      state: 'Healthy',
      createdTime: now,
      updatedTime: now,
      operationId: randomUUID(),
      kvTags: { ...spec.kvTags },
      properties: { hasInferenceSchema: 'False', hasHttps: 'False', ...spec.properties },
      location: spec.location ?? DEMO.location,
      authEnabled: spec.authEnabled ?? true,
      keys: { primaryKey: serviceKey(), secondaryKey: serviceKey() },
      model,
      answer: spec.answer ?? 'json',
      coldStartRemaining: spec.coldStartRequests ?? this.coldStartRequests,
      seq: this.nextSeq++
    }
    this.services.set(service.name, service)
    return service
  }

  /** The services of a workspace, in creation order. */
  list(workspaceId: string): DeployedService[] {
    return [...this.services.values()].filter(s => s.workspaceId.toLowerCase() === workspaceId.toLowerCase())
  }

  /** A service of a workspace by name (its id), or undefined. */
  get(workspaceId: string, name: string): DeployedService | undefined {
    const service = this.services.get(name)
    return service && service.workspaceId.toLowerCase() === workspaceId.toLowerCase() ? service : undefined
  }

  /** Every deployed service, whatever its workspace (the tests' secret scan looks for all their keys). */
  all(): DeployedService[] {
    return [...this.services.values()]
  }

  /** A service by name, whatever its workspace (the scoring front end knows only the name). */
  byName(name: string): DeployedService | undefined {
    return this.services.get(name)
  }
}

/** Route templates of the scoring endpoints: ACI serves `/score` per container host, AKS's azureml-fe `/api/v1/service/{name}/score`. */
export const SCORING_PATTERNS: Readonly<Record<ServiceComputeType, string>> = { ACI: '/services/{name}/score', AKS: '/api/v1/service/{name}/score' }

/** The path of a service's scoring endpoint. */
export function scoringPath(service: Pick<DeployedService, 'name' | 'computeType'>): string {
  return SCORING_PATTERNS[service.computeType].replace('{name}', encodeURIComponent(service.name))
}

/** The path of a service's swagger document, next to its scoring endpoint. */
export function swaggerPath(service: Pick<DeployedService, 'name' | 'computeType'>): string {
  return scoringPath(service).replace(/\/score$/, '/swagger.json')
}

/** What the model-management service routes need. */
export interface ServicesDeps extends DataPlaneDeps {
  services: DeployedServices
}

const READ = 'Microsoft.MachineLearningServices/workspaces/services/read'
const LIST_KEYS = 'Microsoft.MachineLearningServices/workspaces/services/aci/listkeys/action'
const ORDERS = ['CreatedAtDesc', 'CreatedAtAsc', 'UpdatedAtDesc', 'UpdatedAtAsc'] as const
const COMPUTE_TYPES = ['ACI', 'AKS', 'AMLCOMPUTE', 'IOT', 'AKSENDPOINT', 'UNKNOWN'] as const

/** Model management's web service operations (`modelmanagement/v1.0/…/services`): list, get, list keys. */
export function servicesRoutes(deps: ServicesDeps): Route[] {
  const M = workspacePrefix('modelmanagement/v1.0')
  const route = (method: string, pattern: string, handler: (ctx: RequestContext) => Reply): Route => ({ method, pattern, service: 'modelManagement', handler })
  return [
    route('GET', `${M}/services`, ctx => listServices(deps, ctx)),
    route('GET', `${M}/services/{id}`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ)
      const service = findService(deps, ws.workspaceId, ctx.params.id)
      return json(200, serviceJson(service, ctx.endpoints.scoring, parseBoolean(ctx, 'expand')))
    }),
    route('POST', `${M}/services/{id}/listkeys`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, LIST_KEYS)
      const service = findService(deps, ws.workspaceId, ctx.params.id)
      if (!service.authEnabled) {
        const message = `Service ${service.name} does not have key based authentication enabled.`
        throw modelError(400, 'BadRequest', message, [{ code: 'KeyAuthNotEnabled', message }])
      }
      return json(200, { primaryKey: service.keys.primaryKey, secondaryKey: service.keys.secondaryKey })
    })
  ]
}

function listServices(deps: ServicesDeps, ctx: RequestContext): Reply {
  const { ws } = resolveWorkspace(deps, ctx, READ)
  const name = queryParam(ctx, 'name')
  const modelName = queryParam(ctx, 'modelName')
  const modelId = queryParam(ctx, 'modelId')
  const imageId = queryParam(ctx, 'imageId')
  const imageName = queryParam(ctx, 'imageName')
  const computeType = parseComputeType(queryParam(ctx, 'computeType'))
  const tags = parseKeyValueFilter(queryParam(ctx, 'tags'), 'tags')
  const properties = parseKeyValueFilter(queryParam(ctx, 'properties'), 'properties')
  const count = parseCount(queryParam(ctx, 'count'))
  const order = parseOrder(queryParam(ctx, 'orderby', '$orderby'))
  const expand = parseBoolean(ctx, 'expand')

  const modelIdOf = (s: DeployedService): string => `${s.model.name}:${s.model.version}`
  const matches = deps.services.list(ws.workspaceId).filter(
    s =>
      (name === null || s.name === name) &&
      (modelName === null || s.model.name === modelName) &&
      (modelId === null || modelIdOf(s) === modelId) &&
      // Services deployed from environments (as these are) have no image, so an image filter finds none.
      imageId === null &&
      imageName === null &&
      (computeType === null || s.computeType === computeType) &&
      tags.every(([k, v]) => k in s.kvTags && (v === undefined || s.kvTags[k] === v)) &&
      properties.every(([k, v]) => k in s.properties && (v === undefined || s.properties[k] === v))
  )
  const field = order.startsWith('CreatedAt') ? 'createdTime' : 'updatedTime'
  const sign = order.endsWith('Desc') ? -1 : 1
  matches.sort((a, b) => sign * (a[field].localeCompare(b[field]) || a.seq - b.seq))
  const page = paginate(matches, queryParam(ctx, '$skipToken', 'skipToken'), count ?? deps.settings.pageSize, undefined, 'modelManagement')
  const body: Record<string, unknown> = { value: page.items.map(s => serviceJson(s, ctx.endpoints.scoring, expand)) }
  const link = nextLink(ctx, '$skipToken', page.next, ['$skiptoken', 'skiptoken'])
  if (link !== null) body.nextLink = link
  return json(200, body)
}

function findService(deps: ServicesDeps, workspaceId: string, id: string): DeployedService {
  const service = deps.services.get(workspaceId, id)
  if (service) return service
  const message = `No service with id ${id} found in the workspace.`
  throw modelError(404, 'NotFound', message, [{ code: 'ServiceNotFound', message }])
}

/** A service in the swagger's shape (ACIServiceResponse or AKSServiceResponse, by `computeType`). */
export function serviceJson(s: DeployedService, baseUrl: string, expand = false): Record<string, unknown> {
  const host = new URL(baseUrl).host
  const body: Record<string, unknown> = {
    id: s.name,
    name: s.name,
    description: s.description ?? undefined,
    kvTags: s.kvTags,
    properties: s.properties,
    operationId: s.operationId,
    state: s.state,
    createdTime: s.createdTime,
    updatedTime: s.updatedTime,
    computeType: s.computeType,
    deploymentType: 'HttpRealtimeEndpoint',
    containerResourceRequirements: { cpu: 0.1, memoryInGB: 0.5 },
    scoringUri: `${baseUrl}${scoringPath(s)}`,
    swaggerUri: `${baseUrl}${swaggerPath(s)}`,
    authEnabled: s.authEnabled,
    appInsightsEnabled: false,
    dataCollection: { eventHubEnabled: false, storageEnabled: false }
  }
  if (s.computeType === 'ACI') {
    Object.assign(body, { location: s.location, sslEnabled: false, publicIp: new URL(baseUrl).hostname, publicFqdn: host })
  } else {
    Object.assign(body, { computeName: 'aks-cluster', numReplicas: 1, scoringTimeoutMs: 60000, aadAuthEnabled: false, maxConcurrentRequestsPerContainer: 1 })
  }
  if (expand) {
    body.models = [
      {
        id: `${s.model.name}:${s.model.version}`,
        name: s.model.name,
        version: s.model.version,
        framework: 'Custom',
        url: `aml://asset/${s.operationId.replace(/-/g, '')}`,
        mimeType: 'application/json',
        description: 'Logistic regression over x0, x1 (examples/train.py).',
        unpack: false,
        kvTags: {},
        properties: {}
      }
    ]
  }
  return JSON.parse(JSON.stringify(body)) as Record<string, unknown>
}

function badRequest(message: string, target: string): never {
  throw modelError(400, 'BadRequest', message, [{ code: 'InvalidQueryParameter', message, target }])
}

function parseComputeType(raw: string | null): string | null {
  if (raw === null || raw === '') return null
  const known = COMPUTE_TYPES.find(c => c.toLowerCase() === raw.toLowerCase())
  if (!known) badRequest(`'${raw}' is not a valid computeType; valid values are ${COMPUTE_TYPES.join(', ')}.`, 'computeType')
  return known
}

function parseCount(raw: string | null): number | undefined {
  if (raw === null || raw === '') return undefined
  if (!/^\d+$/.test(raw) || Number(raw) < 1) badRequest(`The value '${raw}' of count is not a positive integer.`, 'count')
  return Number(raw)
}

function parseOrder(raw: string | null): (typeof ORDERS)[number] {
  if (raw === null || raw === '') return 'UpdatedAtDesc'
  const known = ORDERS.find(o => o.toLowerCase() === raw.toLowerCase())
  if (!known) badRequest(`'${raw}' is not a valid orderby; valid values are ${ORDERS.join(', ')}.`, 'orderby')
  return known
}

function parseBoolean(ctx: RequestContext, name: string): boolean {
  const raw = queryParam(ctx, name)
  if (raw === null || raw === '') return false
  if (!/^(true|false)$/i.test(raw)) badRequest(`The value '${raw}' of ${name} is not a boolean.`, name)
  return raw.toLowerCase() === 'true'
}

/** The SDK's `"k1,k2=v2"` syntax: each clause requires the key (and the value, when given). */
function parseKeyValueFilter(raw: string | null, name: string): Array<[string, string | undefined]> {
  if (raw === null || raw === '') return []
  return raw.split(',').map(clause => {
    const [key, ...rest] = clause.split('=')
    if (key.trim() === '') badRequest(`The ${name} filter '${raw}' has an empty key.`, name)
    return [key.trim(), rest.length ? rest.join('=').trim() : undefined]
  })
}

// Azure ML's keys are 32 characters of letters and digits; base64 without its symbols gives that look.
function serviceKey(): string {
  let key = ''
  while (key.length < 32) key += randomBytes(32).toString('base64').replace(/[^A-Za-z0-9]/g, '')
  return key.slice(0, 32)
}
