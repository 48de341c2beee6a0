import { randomUUID } from 'node:crypto'
import { nextLink, queryParam, resolveWorkspace, workspacePrefix, type DataPlaneDeps } from './data-plane.js'
import { modelError, type ModelErrorDetail } from './errors.js'
import { json, readBody, type Reply, type RequestContext, type Route } from './http.js'
import { paginate } from './paging.js'
import type { AssetRecord, ModelRecord, RunRecord, Workspace } from './state.js'

/** Model names as the service accepts them: letters, digits, '-', '_' and '.', up to 255, starting with a letter or digit. */
export const MODEL_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9\-_.]{0,254}$/
const ORDERS = ['CreatedAtDesc', 'CreatedAtAsc', 'UpdatedAtDesc', 'UpdatedAtAsc'] as const
type Order = (typeof ORDERS)[number]
const JSON_LIMIT = 4 * 1024 * 1024
const MODEL_URL = /^aml:\/\/asset\/([0-9a-zA-Z-]+)$/
const READ = 'Microsoft.MachineLearningServices/workspaces/models/read'
const WRITE = 'Microsoft.MachineLearningServices/workspaces/models/write'
const DELETE = 'Microsoft.MachineLearningServices/workspaces/models/delete'

/**
 * Model management (`modelmanagement/v1.0`): assets (named sets of artifact prefixes) and the models
 * registered against them. Errors are ModelErrorResponse, not the data plane's ErrorResponse. Any
 * `api-version` is accepted: the SDK sends 2018-11-19, the REST how-to 2019-11-01.
 */
export function modelRoutes(deps: DataPlaneDeps): Route[] {
  const M = workspacePrefix('modelmanagement/v1.0')
  const route = (method: string, pattern: string, handler: (ctx: RequestContext) => Reply | Promise<Reply>): Route => ({ method, pattern, service: 'modelManagement', handler })
  return [
    route('POST', `${M}/assets`, async ctx => {
      const { ws } = resolveWorkspace(deps, ctx, WRITE)
      const asset = toAsset(deps, ws, await readObject(ctx))
      ws.assets.set(asset.id, asset)
      return json(200, assetJson(asset))
    }),
    route('GET', `${M}/assets`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ)
      const runId = queryParam(ctx, 'runId')
      const name = queryParam(ctx, 'name')
      const tags = parseKeyFilter(queryParam(ctx, 'tags'), 'tags')
      const properties = parseKeyFilter(queryParam(ctx, 'properties'), 'properties')
      const assets = [...ws.assets.values()].filter(
        a => (runId === null || a.runid === runId) && (name === null || a.name === name) && matches(a.kvTags, tags) && matches(a.properties, properties)
      )
      const sorted = sortBy(assets, parseOrder(queryParam(ctx, 'orderby', 'orderBy')), a => a.createdTime)
      return listReply(deps, ctx, sorted.map(assetJson))
    }),
    route('GET', `${M}/assets/{id}`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ)
      const asset = ws.assets.get(ctx.params.id.toLowerCase())
      if (!asset) throw notFound('AssetNotFound', `Asset with id ${ctx.params.id} was not found.`)
      return json(200, assetJson(asset))
    }),
    route('DELETE', `${M}/assets/{id}`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, DELETE)
      return { status: ws.assets.delete(ctx.params.id.toLowerCase()) ? 200 : 204 }
    }),
    route('POST', `${M}/models`, async ctx => {
      const { ws } = resolveWorkspace(deps, ctx, WRITE)
      const model = toModel(ws, await readObject(ctx))
      ws.models.set(modelId(model), model)
      return json(200, modelJson(model))
    }),
    route('GET', `${M}/models`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ)
      const name = queryParam(ctx, 'name')
      const framework = queryParam(ctx, 'framework')
      const description = queryParam(ctx, 'description')
      const runId = queryParam(ctx, 'runId')
      const tags = parseKeyFilter(queryParam(ctx, 'tags'), 'tags')
      const properties = parseKeyFilter(queryParam(ctx, 'properties'), 'properties')
      const models = [...ws.models.values()].filter(
        m =>
          (name === null || m.name === name) &&
          (framework === null || m.framework.toLowerCase() === framework.toLowerCase()) &&
          (description === null || m.description === description) &&
          (runId === null || m.runId === runId) &&
          matches(m.kvTags, tags) &&
          matches(m.properties, properties)
      )
      const order = parseOrder(queryParam(ctx, 'orderBy', 'orderby'))
      const sorted = sortBy(models, order, m => (order.startsWith('Updated') ? m.modifiedTime : m.createdTime))
      return listReply(deps, ctx, sorted.map(modelJson))
    }),
    route('GET', `${M}/models/{id}`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ)
      const model = ws.models.get(ctx.params.id)
      if (!model) throw notFound('ModelNotFound', `Model with id ${ctx.params.id} was not found.`)
      return json(200, modelJson(model))
    }),
    route('DELETE', `${M}/models/{id}`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, DELETE)
      // Versions are never reused: the next registration of the name still gets the next number.
      return { status: ws.models.delete(ctx.params.id) ? 200 : 204 }
    })
  ]
}

/** The id of a model version, `{name}:{version}`. */
export function modelId(model: ModelRecord): string {
  return `${model.name}:${model.version}`
}

/** The Model object of model management. */
export function modelJson(m: ModelRecord): Record<string, unknown> {
  return {
    id: modelId(m),
    name: m.name,
    version: m.version,
    url: m.url,
    mimeType: m.mimeType,
    description: m.description,
    framework: m.framework,
    frameworkVersion: m.frameworkVersion,
    datasets: m.datasets,
    unpack: m.unpack,
    parentModelId: m.parentModelId,
    runId: m.runId,
    experimentName: m.experimentName,
    kvTags: m.kvTags,
    properties: m.properties,
    createdTime: m.createdTime,
    modifiedTime: m.modifiedTime
  }
}

/** The Asset object of model management. */
export function assetJson(a: AssetRecord): Record<string, unknown> {
  return {
    id: a.id,
    name: a.name,
    description: a.description,
    artifacts: a.artifacts,
    kvTags: a.kvTags,
    properties: a.properties,
    runid: a.runid,
    meta: a.meta,
    createdTime: a.createdTime
  }
}

function listReply(deps: DataPlaneDeps, ctx: RequestContext, items: Array<Record<string, unknown>>): Reply {
  const rawCount = queryParam(ctx, 'count')
  let pageSize = deps.settings.pageSize
  if (rawCount !== null && rawCount !== '') {
    if (!/^\d+$/.test(rawCount) || Number(rawCount) < 1) throw badRequest('InvalidQueryParameter', `The value '${rawCount}' of 'count' is not a positive integer.`, 'count')
    pageSize = Number(rawCount)
  }
  const page = paginate(items, queryParam(ctx, '$skipToken', 'skipToken'), pageSize, undefined, 'modelManagement')
  const body: Record<string, unknown> = { value: page.items }
  const link = nextLink(ctx, '$skipToken', page.next, ['$skiptoken', 'skiptoken'])
  if (link) body.nextLink = link
  return json(200, body)
}

function toAsset(deps: DataPlaneDeps, ws: Workspace, b: Record<string, unknown>): AssetRecord {
  const name = requiredString(b, 'name', 'asset')
  if (!Array.isArray(b.artifacts) || b.artifacts.length === 0) {
    throw badRequest('MissingRequiredField', "An asset needs 'artifacts': a non-empty list of {prefix} or {id} naming artifacts (e.g. ExperimentRun/dcid.{runId}/outputs/model.pkl).", 'artifacts')
  }
  const artifacts = b.artifacts.map((raw, i) => {
    const a = raw as Record<string, unknown> | null
    const prefix = a?.prefix
    const id = a?.id
    if (typeof a !== 'object' || a === null || Array.isArray(a) || (typeof prefix !== 'string' && typeof id !== 'string')) {
      throw badRequest('InvalidArtifact', `artifacts[${i}] must be an object with a 'prefix' or an 'id' string.`, `artifacts[${i}]`)
    }
    if (typeof prefix === 'string') checkArtifacts(deps, ws, prefix, 'prefix', i)
    if (typeof id === 'string') checkArtifacts(deps, ws, id, 'id', i)
    return { ...(typeof prefix === 'string' ? { prefix } : {}), ...(typeof id === 'string' ? { id } : {}) }
  })
  return {
    id: randomUUID().replace(/-/g, ''),
    name,
    description: optionalString(b, 'description'),
    artifacts,
    kvTags: stringMap(b, 'kvTags'),
    properties: stringMap(b, 'properties'),
    runid: optionalString(b, 'runid'),
    meta: stringMap(b, 'meta'),
    createdTime: new Date().toISOString(),
    seq: ws.nextSeq++
  }
}

/**
 * An artifact prefix `{origin}/{container}/{path}` must name stored artifacts: the file itself or a folder
 * holding some (a run's `outputs/model` or `outputs/model.pkl`). A run container must be a run of this workspace.
 */
function checkArtifacts(deps: DataPlaneDeps, ws: Workspace, value: string, kind: 'prefix' | 'id', index: number): void {
  const target = `artifacts[${index}].${kind}`
  const [origin, container, ...rest] = value.split('/')
  const folder = rest.join('/').replace(/\/+$/, '')
  if (!origin || !container || value.startsWith('/') || rest.some(s => s === '.' || s === '..')) {
    throw badRequest('InvalidArtifactPrefix', `The artifact ${kind} '${value}' is not valid: use {origin}/{container}/{path}, e.g. ExperimentRun/dcid.{runId}/outputs/model.pkl.`, target)
  }
  let run: RunRecord | undefined
  if (origin === 'ExperimentRun' && container.startsWith('dcid.')) {
    run = [...ws.runs.values()].find(r => r.dataContainerId === container)
    if (!run) {
      throw badRequest('RunNotFound', `The artifact ${kind} '${value}' names run '${container.slice(5)}', which does not exist in workspace '${ws.name}'.`, target)
    }
  }
  const stored = deps.artifacts.list(ws.workspaceId, origin, container)
  const found = kind === 'id' ? stored.some(a => a.path === folder) : stored.some(a => folder === '' || a.path === folder || a.path.startsWith(`${folder}/`))
  if (!found) {
    const of = run ? `run '${run.runId}'` : `container '${origin}/${container}'`
    throw badRequest('ArtifactNotFound', `The artifact ${kind} '${value}' matches no artifact of ${of}.`, target)
  }
}

function toModel(ws: Workspace, b: Record<string, unknown>): ModelRecord {
  const name = requiredString(b, 'name', 'model')
  if (!MODEL_NAME_PATTERN.test(name)) {
    throw badRequest(
      'InvalidModelName',
      `Model name '${name}' is not valid: use letters, digits, '-', '_' and '.' (at most 255 characters, starting with a letter or digit).`,
      'name'
    )
  }
  const url = requiredString(b, 'url', 'model')
  const mimeType = requiredString(b, 'mimeType', 'model')
  const asset = MODEL_URL.exec(url)
  if (!asset) throw badRequest('InvalidModelUrl', `The model url '${url}' is not valid: register a model against an asset, with url 'aml://asset/{assetId}'.`, 'url')
  if (!ws.assets.has(asset[1].toLowerCase())) throw badRequest('AssetNotFound', `The model url '${url}' names asset '${asset[1]}', which does not exist.`, 'url')
  if (b.unpack !== undefined && b.unpack !== null && typeof b.unpack !== 'boolean') throw badRequest('InvalidField', "'unpack' must be a boolean.", 'unpack')
  const datasets = b.datasets ?? []
  if (!Array.isArray(datasets) || datasets.some(d => typeof d !== 'object' || d === null || Array.isArray(d))) {
    throw badRequest('InvalidField', "'datasets' must be a list of {name, id}.", 'datasets')
  }
  const now = new Date().toISOString()
  const model: ModelRecord = {
    name,
    version: 0,
    url,
    mimeType,
    description: optionalString(b, 'description'),
    // The service files a model without a framework under 'Custom'.
    framework: optionalString(b, 'framework') ?? 'Custom',
    frameworkVersion: optionalString(b, 'frameworkVersion'),
    datasets: (datasets as Array<Record<string, unknown>>).map(d => ({
      ...(typeof d.name === 'string' ? { name: d.name } : {}),
      ...(typeof d.id === 'string' ? { id: d.id } : {})
    })),
    unpack: b.unpack === true,
    parentModelId: optionalString(b, 'parentModelId'),
    runId: optionalString(b, 'runId'),
    experimentName: optionalString(b, 'experimentName'),
    kvTags: stringMap(b, 'kvTags'),
    properties: stringMap(b, 'properties'),
    createdTime: now,
    modifiedTime: now,
    seq: 0
  }
  // Numbered only once everything validated, so a rejected registration uses up no version.
  model.version = (ws.modelVersions.get(name) ?? 0) + 1
  ws.modelVersions.set(name, model.version)
  model.seq = ws.nextSeq++
  return model
}

async function readObject(ctx: RequestContext): Promise<Record<string, unknown>> {
  const raw = (await readBody(ctx.req, JSON_LIMIT)).toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch (err) {
    throw badRequest('InvalidRequestBody', `The request body is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('InvalidRequestBody', 'The request body must be a JSON object.')
  return value as Record<string, unknown>
}

/** `"k1,k2=v2"`: each key must be present, with that value when one is given. */
function parseKeyFilter(raw: string | null, field: string): Array<{ key: string; value?: string }> {
  if (raw === null || raw.trim() === '') return []
  return raw.split(',').map(part => {
    const eq = part.indexOf('=')
    const key = (eq < 0 ? part : part.slice(0, eq)).trim()
    if (!key) throw badRequest('InvalidQueryParameter', `The '${field}' filter '${raw}' is not valid: use key or key=value items separated by commas.`, field)
    return eq < 0 ? { key } : { key, value: part.slice(eq + 1).trim() }
  })
}

function matches(map: Record<string, string>, filter: Array<{ key: string; value?: string }>): boolean {
  return filter.every(f => f.key in map && (f.value === undefined || map[f.key] === f.value))
}

function parseOrder(raw: string | null): Order {
  if (raw === null || raw === '') return 'CreatedAtDesc'
  const order = ORDERS.find(o => o.toLowerCase() === raw.toLowerCase())
  if (!order) throw badRequest('InvalidQueryParameter', `The orderBy value '${raw}' is not valid: use one of ${ORDERS.join(', ')}.`, 'orderBy')
  return order
}

function sortBy<T extends { seq: number }>(items: T[], order: Order, time: (item: T) => string): T[] {
  const sign = order.endsWith('Desc') ? -1 : 1
  return [...items].sort((a, b) => sign * (time(a) < time(b) ? -1 : time(a) > time(b) ? 1 : a.seq - b.seq))
}

function requiredString(b: Record<string, unknown>, field: string, what: string): string {
  const value = b[field]
  if (typeof value !== 'string' || value.trim() === '') throw badRequest('MissingRequiredField', `The ${what} field '${field}' is required and must be a non-empty string.`, field)
  return value
}

function optionalString(b: Record<string, unknown>, field: string): string | null {
  const value = b[field]
  if (value === undefined || value === null) return null
  if (typeof value !== 'string') throw badRequest('InvalidField', `'${field}' must be a string.`, field)
  return value
}

function stringMap(b: Record<string, unknown>, field: string): Record<string, string> {
  const value = b[field]
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest('InvalidField', `'${field}' must be an object of strings.`, field)
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw badRequest('InvalidField', `'${field}.${k}' must be a string.`, field)
    out[k] = v
  }
  return out
}

function badRequest(code: string, message: string, target?: string): Error {
  const detail: ModelErrorDetail = { code, message }
  if (target) detail.target = target
  return modelError(400, 'BadRequest', message, [detail])
}

function notFound(code: string, message: string): Error {
  return modelError(404, 'NotFound', message, [{ code, message }])
}
