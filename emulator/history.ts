import { randomUUID } from 'node:crypto'
import type { Caller } from './access.js'
import { artifactContentInfo, artifactMetadata, artifactPage } from './artifacts.js'
import { queryParam, nextLink, parseJson, resolveWorkspace, workspacePrefix, type DataPlaneDeps } from './data-plane.js'
import { dataPlaneError } from './errors.js'
import { json, readBody, type Reply, type RequestContext, type Route } from './http.js'
import { paginate, parseTop } from './paging.js'
import { DRIVER_LOG, reportedStatus, setStatus } from './runner.js'
import { TERMINAL_STATUSES, type Experiment, type MetricRecord, type RunRecord, type RunStatus, type Workspace } from './state.js'
import type { Endpoints } from './endpoints.js'

/** Run ids as the service accepts them. */
export const RUN_ID_PATTERN = /^[a-zA-Z0-9][\w-]{0,255}$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/
const JSON_LIMIT = 10 * 1024 * 1024
/**
 * The paging parameter of Experiments_List, Runs_List and RunMetrics_List, as the contract names it. Only
 * the contract's query names are read (`$continuationtoken`, `$top`, `$orderby`): Azure ignores a query
 * parameter it does not know, so a client that spells one differently gets the first page again.
 */
const CONTINUATION = '$continuationtoken'
const READ = 'Microsoft.MachineLearningServices/workspaces/experiments/runs/read'
const WRITE = 'Microsoft.MachineLearningServices/workspaces/experiments/runs/write'
const RUN_STATUSES: readonly RunStatus[] = [
  'NotStarted',
  'Starting',
  'Provisioning',
  'Preparing',
  'Queued',
  'Running',
  'Finalizing',
  'CancelRequested',
  'Completed',
  'Failed',
  'Canceled',
  'NotResponding'
]

/** Run history (`history/v1.0`): experiments, runs, tags and properties, metrics, run artifacts. */
export function historyRoutes(deps: DataPlaneDeps): Route[] {
  const H = workspacePrefix('history/v1.0')
  const R = `${H}/experiments/{exp}/runs/{runId}`
  const route = (method: string, pattern: string, handler: (ctx: RequestContext) => Reply | Promise<Reply>): Route => ({ method, pattern, service: 'dataPlane', handler })
  const listExperiments = (ctx: RequestContext, token: string | null, top: number | undefined, link: boolean, orderBy: string[]): Reply => {
    const { ws } = resolveWorkspace(deps, ctx, 'Microsoft.MachineLearningServices/workspaces/experiments/read')
    const experiments = sortItems([...ws.experiments.values()], parseOrderBy(orderBy, EXPERIMENT_ORDER_FIELDS), [])
    const page = paginate(experiments, token, deps.settings.pageSize, top)
    return json(200, { value: page.items.map(experimentJson), continuationToken: page.next, nextLink: link ? nextLink(ctx, CONTINUATION, page.next, [CONTINUATION]) : null })
  }
  const listRuns = (ctx: RequestContext, filter: string | null, token: string | null, top: number | undefined, link: boolean, orderBy: string[]): Reply => {
    const { ws } = resolveWorkspace(deps, ctx, READ)
    const clauses = parseFilter(filter, ['RunId', 'Status', 'Target', 'RunType'], false)
    const runs = [...ws.runs.values()].filter(r => sameName(r.experiment.name, ctx.params.exp) && clauses.every(c => runField(r, c.field) === c.value))
    // Newest first unless asked otherwise; the run number breaks ties between runs of the same millisecond.
    const sorted = sortItems(runs, parseOrderBy(orderBy, RUN_ORDER_FIELDS), [{ key: r => r.createdUtc, desc: true }, { key: r => r.runNumber, desc: true }])
    const page = paginate(sorted, token, deps.settings.pageSize, top)
    return json(200, {
      value: page.items.map(r => runJson(r, ctx.baseUrl)),
      continuationToken: page.next,
      nextLink: link ? nextLink(ctx, CONTINUATION, page.next, [CONTINUATION]) : null
    })
  }
  const listMetrics = (ctx: RequestContext, filter: string | null, token: string | null, top: number | undefined, link: boolean): Reply => {
    const { ws } = resolveWorkspace(deps, ctx, READ)
    const clauses = parseFilter(filter, ['RunId', 'Name'], true)
    const metrics = [...ws.runs.values()]
      .filter(r => sameName(r.experiment.name, ctx.params.exp))
      .flatMap(r => r.metrics)
      .filter(m => clauses.every(c => (c.field === 'RunId' ? m.runId : m.name) === c.value))
    const page = paginate(metrics, token, deps.settings.pageSize, top)
    return json(200, { value: page.items, continuationToken: page.next, nextLink: link ? nextLink(ctx, CONTINUATION, page.next, [CONTINUATION]) : null })
  }

  return [
    route('GET', `${H}/experiments`, ctx =>
      listExperiments(ctx, queryParam(ctx, CONTINUATION), parseTop(queryParam(ctx, '$top')), true, orderByParams(ctx))
    ),
    route('POST', `${H}/experiments:query`, async ctx => {
      const q = queryParams(parseJson(await readBody(ctx.req, JSON_LIMIT)))
      return listExperiments(ctx, q.continuationToken, q.top, false, q.orderBy)
    }),
    route('GET', `${H}/experiments/{exp}`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, 'Microsoft.MachineLearningServices/workspaces/experiments/read')
      const experiment = ws.experiments.get(ctx.params.exp.toLowerCase())
      if (!experiment) throw dataPlaneError(404, 'UserError', `Experiment ${ctx.params.exp} was not found`, { innerCode: 'NotFoundError' })
      return json(200, experimentJson(experiment))
    }),
    route('POST', `${H}/experiments/{exp}`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, 'Microsoft.MachineLearningServices/workspaces/experiments/write')
      return json(200, experimentJson(ensureExperiment(ws, ctx.params.exp)))
    }),
    route('GET', `${H}/experiments/{exp}/runs`, ctx =>
      listRuns(ctx, queryParam(ctx, '$filter'), queryParam(ctx, CONTINUATION), parseTop(queryParam(ctx, '$top')), true, orderByParams(ctx))
    ),
    route('POST', `${H}/experiments/{exp}/runs:query`, async ctx => {
      const q = queryParams(parseJson(await readBody(ctx.req, JSON_LIMIT)))
      return listRuns(ctx, q.filter, q.continuationToken, q.top, false, q.orderBy)
    }),
    route('GET', R, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ, ctx.params.runId)
      return json(200, runJson(findRun(ws, ctx), ctx.baseUrl))
    }),
    route('PATCH', R, async ctx => {
      const { ws, caller } = resolveWorkspace(deps, ctx, WRITE, ctx.params.runId)
      const body = parseJson(await readBody(ctx.req, JSON_LIMIT))
      return json(200, runJson(patchRun(ws, ctx, caller, body), ctx.baseUrl))
    }),
    route('GET', `${R}/details`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ, ctx.params.runId)
      return json(200, runDetailsJson(deps, ws, findRun(ws, ctx), ctx.endpoints))
    }),
    route('DELETE', `${R}/tags`, async ctx => {
      const { ws } = resolveWorkspace(deps, ctx, WRITE, ctx.params.runId)
      const run = findRun(ws, ctx)
      const keys = parseJson(await readBody(ctx.req, JSON_LIMIT))
      if (!Array.isArray(keys) || keys.some(k => typeof k !== 'string')) throw validation('The body must be a JSON array of tag names.')
      for (const key of keys as string[]) delete run.tags[key]
      run.revision += 1
      return json(200, runJson(run, ctx.baseUrl))
    }),
    route('POST', `${R}/metrics`, async ctx => {
      const { ws } = resolveWorkspace(deps, ctx, WRITE, ctx.params.runId)
      const run = findRun(ws, ctx)
      addMetrics(run, [toMetric(run, parseJson(await readBody(ctx.req, JSON_LIMIT)))])
      return { status: 200 }
    }),
    route('POST', `${R}/batch/metrics`, async ctx => {
      const { ws } = resolveWorkspace(deps, ctx, WRITE, ctx.params.runId)
      const run = findRun(ws, ctx)
      const body = parseJson(await readBody(ctx.req, JSON_LIMIT)) as { values?: unknown }
      if (typeof body !== 'object' || body === null || !Array.isArray(body.values)) throw validation("The body must be an object with a 'values' array of metrics.", 'values')
      addMetrics(run, body.values.map(v => toMetric(run, v)))
      return { status: 200 }
    }),
    route('GET', `${H}/experiments/{exp}/metrics`, ctx =>
      listMetrics(ctx, queryParam(ctx, '$filter'), queryParam(ctx, CONTINUATION), parseTop(queryParam(ctx, '$top')), true)
    ),
    route('POST', `${H}/experiments/{exp}/metrics:query`, async ctx => {
      const q = queryParams(parseJson(await readBody(ctx.req, JSON_LIMIT)))
      return listMetrics(ctx, q.filter, q.continuationToken, q.top, false)
    }),
    route('GET', `${H}/experiments/{exp}/metrics/{metricId}`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ)
      const metric = [...ws.runs.values()]
        .filter(r => sameName(r.experiment.name, ctx.params.exp))
        .flatMap(r => r.metrics)
        .find(m => m.metricId.toLowerCase() === ctx.params.metricId.toLowerCase())
      if (!metric) throw dataPlaneError(404, 'UserError', `Metric ${ctx.params.metricId} was not found`, { innerCode: 'NotFoundError' })
      return json(200, metric)
    }),
    route('GET', `${R}/artifacts`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ, ctx.params.runId)
      const run = findRun(ws, ctx)
      return artifactPage(deps, ctx, ws, 'ExperimentRun', run.dataContainerId)
    }),
    route('GET', `${R}/artifacts/contentinfo`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ, ctx.params.runId)
      return artifactContentInfo(deps, ctx, ws, 'ExperimentRun', findRun(ws, ctx).dataContainerId)
    }),
    route('GET', `${R}/artifacts/metadata`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ, ctx.params.runId)
      return artifactMetadata(deps, ctx, ws, 'ExperimentRun', findRun(ws, ctx).dataContainerId)
    })
  ]
}

/** The experiment with this name, created on first use (as startrun does). */
export function ensureExperiment(ws: Workspace, name: string): Experiment {
  const existing = ws.experiments.get(name.toLowerCase())
  if (existing) return existing
  const experiment: Experiment = {
    experimentId: randomUUID(),
    name,
    description: null,
    createdUtc: new Date().toISOString(),
    tags: {},
    latestCreatedRunCreatedUtc: null,
    latestCreatedRunId: null
  }
  ws.experiments.set(name.toLowerCase(), experiment)
  return experiment
}

/** Adds a new run to a workspace (the caller has checked that the id is free). */
export function createRun(
  ws: Workspace,
  experiment: Experiment,
  runId: string,
  caller: Caller,
  init: Partial<Pick<RunRecord, 'runType' | 'scriptName' | 'target' | 'runDefinition' | 'origin' | 'name' | 'description'>> = {}
): RunRecord {
  const now = new Date().toISOString()
  const createdBy =
    caller.kind === 'principal'
      ? { userObjectId: caller.objectId, userTenantId: caller.tenantId, userName: caller.clientId }
      : { userObjectId: caller.claims.oid, userTenantId: caller.claims.tid, userName: caller.claims.appid }
  const run: RunRecord = {
    runId,
    runNumber: ws.nextRunNumber++,
    experiment,
    workspace: ws,
    status: 'NotStarted',
    createdUtc: now,
    startTimeUtc: null,
    endTimeUtc: null,
    createdBy,
    error: null,
    warnings: [],
    revision: 0,
    name: init.name ?? null,
    description: init.description ?? null,
    runType: init.runType ?? 'azureml.scriptrun',
    scriptName: init.scriptName ?? null,
    target: init.target ?? null,
    dataContainerId: `dcid.${runId}`,
    properties: {},
    tags: {},
    runDefinition: init.runDefinition ?? null,
    hidden: false,
    origin: init.origin ?? 'history',
    metrics: [],
    hold: null,
    statusHistory: []
  }
  setStatus(run, 'NotStarted')
  ws.runs.set(runId, run)
  experiment.latestCreatedRunId = runId
  experiment.latestCreatedRunCreatedUtc = now
  return run
}

/** The Run object of run history. */
export function runJson(run: RunRecord, baseUrl: string): Record<string, unknown> {
  const ws = run.workspace
  const wsPath = `/subscriptions/${ws.subscriptionId}/resourceGroups/${ws.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${ws.name}`
  return {
    runId: run.runId,
    runNumber: run.runNumber,
    rootRunId: run.runId,
    parentRunId: null,
    experimentId: run.experiment.experimentId,
    status: reportedStatus(run),
    createdUtc: run.createdUtc,
    startTimeUtc: run.startTimeUtc,
    endTimeUtc: run.endTimeUtc,
    createdBy: run.createdBy,
    userId: run.createdBy.userObjectId,
    error: runError(run),
    warnings: run.warnings.length ? run.warnings : null,
    revision: run.revision,
    heartbeatEnabled: false,
    options: { generateDataContainerIdIfNotSpecified: true },
    name: run.name,
    dataContainerId: run.dataContainerId,
    description: run.description,
    hidden: run.hidden,
    runType: run.runType,
    properties: run.properties,
    scriptName: run.scriptName,
    target: run.target,
    tags: run.tags,
    runDefinition: run.runDefinition,
    createdFrom: null,
    cancelUri: `${baseUrl}/execution/v1.0${wsPath}/experiments/${encodeURIComponent(run.experiment.name)}/runId/${encodeURIComponent(run.runId)}/cancel`,
    diagnosticsUri: null
  }
}

function runError(run: RunRecord): Record<string, unknown> | null {
  if (!run.error) return null
  return { error: { code: run.error.code, message: run.error.message }, time: run.endTimeUtc ?? new Date().toISOString(), location: run.workspace.location }
}

function runDetailsJson(deps: DataPlaneDeps, ws: Workspace, run: RunRecord, endpoints: Endpoints): Record<string, unknown> {
  const logFiles: Record<string, string> = {}
  for (const artifact of deps.artifacts.list(ws.workspaceId, 'ExperimentRun', run.dataContainerId)) {
    if (artifact.path === DRIVER_LOG || artifact.path.startsWith('azureml-logs/') || artifact.path.startsWith('logs/')) {
      logFiles[artifact.path] = deps.blob.url(endpoints.blob(ws.storageAccountName), ws, 'ExperimentRun', run.dataContainerId, artifact.path)
    }
  }
  return {
    runId: run.runId,
    target: run.target,
    status: reportedStatus(run),
    parentRunId: null,
    startTimeUtc: run.startTimeUtc,
    endTimeUtc: run.endTimeUtc,
    error: runError(run),
    warnings: run.warnings.length ? run.warnings : null,
    tags: run.tags,
    properties: run.properties,
    runDefinition: run.runDefinition,
    logFiles,
    revision: run.revision
  }
}

function experimentJson(e: Experiment): Record<string, unknown> {
  return {
    experimentId: e.experimentId,
    name: e.name,
    description: e.description,
    createdUtc: e.createdUtc,
    tags: e.tags,
    archivedTime: null,
    latestCreatedRunCreatedUtc: e.latestCreatedRunCreatedUtc,
    latestCreatedRunId: e.latestCreatedRunId
  }
}

function findRun(ws: Workspace, ctx: RequestContext): RunRecord {
  const run = ws.runs.get(ctx.params.runId)
  if (!run || !sameName(run.experiment.name, ctx.params.exp)) {
    throw dataPlaneError(404, 'UserError', `Run ${ctx.params.runId} was not found`, { innerCode: 'NotFoundError' })
  }
  return run
}

/** PATCH run: creates the run if needed, merges tags, adds properties not yet set. */
function patchRun(ws: Workspace, ctx: RequestContext, caller: Caller, body: unknown): RunRecord {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw validation('The body must be a CreateRun JSON object.')
  const b = body as Record<string, unknown>
  const runId = ctx.params.runId
  if (b.runId !== undefined && b.runId !== null && b.runId !== runId) throw validation(`The body's runId '${String(b.runId)}' does not match the run id '${runId}' of the URL.`, 'runId')
  const tags = stringMap(b.tags, 'tags')
  const properties = stringMap(b.properties, 'properties')
  let run = ws.runs.get(runId)
  if (run && !sameName(run.experiment.name, ctx.params.exp)) {
    throw dataPlaneError(409, 'UserError', `Run ${runId} already exists in experiment ${run.experiment.name}`, { innerCode: 'Conflict' })
  }
  if (!run) {
    if (!RUN_ID_PATTERN.test(runId)) throw validation(`The run id '${runId}' is not valid: it must match ^[a-zA-Z0-9][\\w-]{0,255}$.`, 'runId')
    run = createRun(ws, ensureExperiment(ws, ctx.params.exp), runId, caller, {
      runType: typeof b.runType === 'string' ? b.runType : undefined,
      name: typeof b.name === 'string' ? b.name : undefined,
      description: typeof b.description === 'string' ? b.description : undefined,
      target: typeof b.target === 'string' ? b.target : undefined,
      scriptName: typeof b.scriptName === 'string' ? b.scriptName : undefined,
      origin: 'history'
    })
  }
  Object.assign(run.tags, tags)
  for (const [key, value] of Object.entries(properties)) if (!(key in run.properties)) run.properties[key] = value
  if (typeof b.name === 'string') run.name = b.name
  if (typeof b.description === 'string') run.description = b.description
  if (typeof b.hidden === 'boolean') run.hidden = b.hidden
  // Only the client of a run it created itself drives that run's status; the runner owns startrun runs.
  if (run.origin === 'history' && typeof b.status === 'string' && !TERMINAL_STATUSES.includes(run.status)) {
    if (!RUN_STATUSES.includes(b.status as RunStatus)) throw validation(`'${b.status}' is not a run status.`, 'status')
    setStatus(run, b.status as RunStatus)
    if (b.status === 'Running' && !run.startTimeUtc) run.startTimeUtc = new Date().toISOString()
    if (TERMINAL_STATUSES.includes(b.status as RunStatus)) run.endTimeUtc = new Date().toISOString()
  }
  run.revision += 1
  return run
}

function stringMap(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw validation(`'${field}' must be an object of strings.`, field)
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) {
    if (v !== null && typeof v === 'object') throw validation(`'${field}.${k}' must be a string.`, field)
    out[k] = v === null ? '' : String(v)
  }
  return out
}

/** Validates a posted Metric and turns it into the stored RunMetric. */
function toMetric(run: RunRecord, raw: unknown): MetricRecord {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw validation('A metric must be a JSON object.')
  const m = raw as Record<string, unknown>
  if (typeof m.name !== 'string' || m.name.trim() === '') throw validation('A metric must have a name.', 'name')
  const name = m.name
  if (!Array.isArray(m.cells) || m.cells.length === 0) throw validation(`Metric '${name}' has no cells.`, 'cells')
  const cells = m.cells.map(cell => {
    if (typeof cell !== 'object' || cell === null || Array.isArray(cell) || Object.keys(cell).length === 0) {
      throw validation(`Metric '${name}' has a cell that is not an object of values.`, 'cells')
    }
    for (const v of Object.values(cell)) {
      if (v !== null && !['string', 'number', 'boolean'].includes(typeof v)) {
        throw validation(`Metric '${name}' has a value that is not a number, string or boolean.`, 'cells')
      }
    }
    return cell as Record<string, string | number | boolean | null>
  })
  if (m.metricId !== undefined && m.metricId !== null && (typeof m.metricId !== 'string' || !UUID.test(m.metricId))) {
    throw validation(`The metricId of metric '${name}' is not a GUID.`, 'metricId')
  }
  if (m.createdUtc !== undefined && m.createdUtc !== null && (typeof m.createdUtc !== 'string' || !DATE_TIME.test(m.createdUtc))) {
    throw validation(`The createdUtc of metric '${name}' is not an ISO 8601 date-time.`, 'createdUtc')
  }
  const columns = Object.keys(cells[0])
  const isTable = cells.some(c => Object.keys(c).some(k => k !== name)) || columns.length > 1
  const metricType =
    typeof m.metricType === 'string' && m.metricType ? m.metricType : isTable ? 'azureml.v1.table' : cells.length > 1 ? 'azureml.v1.list' : 'azureml.v1.scalar'
  return {
    runId: run.runId,
    metricId: typeof m.metricId === 'string' ? m.metricId : randomUUID(),
    dataContainerId: run.dataContainerId,
    metricType,
    createdUtc: typeof m.createdUtc === 'string' ? m.createdUtc : new Date().toISOString(),
    name,
    description: typeof m.description === 'string' ? m.description : '',
    label: typeof m.label === 'string' ? m.label : null,
    numCells: cells.length,
    dataLocation: typeof m.dataLocation === 'string' ? m.dataLocation : null,
    cells,
    schema: schemaOf(m.schema, cells)
  }
}

function schemaOf(given: unknown, cells: Array<Record<string, unknown>>): MetricRecord['schema'] {
  const g = given as { properties?: unknown } | null | undefined
  if (g && Array.isArray(g.properties) && g.properties.every(p => typeof p === 'object' && p !== null)) {
    const properties = (g.properties as Array<Record<string, unknown>>).map(p => ({
      propertyId: String(p.propertyId ?? p.name ?? ''),
      name: String(p.name ?? p.propertyId ?? ''),
      type: String(p.type ?? 'string')
    }))
    return { numProperties: properties.length, properties }
  }
  const properties = Object.entries(cells[0]).map(([key, value]) => ({ propertyId: key, name: key, type: valueType(value) }))
  return { numProperties: properties.length, properties }
}

function valueType(value: unknown): string {
  if (typeof value === 'boolean') return 'bool'
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float'
  return 'string'
}

/** Appends metrics in order; a metricId already stored is a retried post and is not logged twice. */
function addMetrics(run: RunRecord, metrics: MetricRecord[]): void {
  const known = new Set(run.metrics.map(m => m.metricId.toLowerCase()))
  for (const metric of metrics) {
    if (known.has(metric.metricId.toLowerCase())) continue
    known.add(metric.metricId.toLowerCase())
    run.metrics.push(metric)
  }
}

/** A tiny OData `$filter`: `Field eq value` clauses joined by `and`, values quoted or not. */
function parseFilter(raw: string | null, fields: string[], requireRunId: boolean): Array<{ field: string; value: string }> {
  const unsupported = (): never => {
    throw validation(`The filter '${raw ?? ''}' is not supported. Use "RunId eq <run id>"${fields.length > 1 ? ` (optionally "and ${fields[1]} eq <value>")` : ''}.`, '$filter')
  }
  if (raw === null || raw.trim() === '') {
    if (requireRunId) throw validation("The $filter query parameter is required, e.g. $filter=RunId eq <run id>.", '$filter')
    return []
  }
  const clauses = raw.split(/\s+and\s+/i).map(part => {
    const m = /^\s*(\w+)\s+eq\s+(?:'([^']*)'|"([^"]*)"|([^\s'"]+))\s*$/i.exec(part)
    if (!m) return unsupported()
    const field = fields.find(f => f.toLowerCase() === m[1].toLowerCase())
    if (!field) return unsupported()
    return { field, value: m[2] ?? m[3] ?? m[4] }
  })
  if (requireRunId && !clauses.some(c => c.field === 'RunId')) unsupported()
  return clauses
}

function runField(run: RunRecord, field: string): string | null {
  switch (field) {
    case 'RunId':
      return run.runId
    case 'Status':
      return reportedStatus(run)
    case 'Target':
      return run.target
    default:
      return run.runType
  }
}

function queryParams(body: unknown): { filter: string | null; continuationToken: string | null; top: number | undefined; orderBy: string[] } {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  const top = b.top
  if (top !== undefined && top !== null && (typeof top !== 'number' || !Number.isInteger(top) || top < 0)) throw validation("'top' must be a non-negative integer.", 'top')
  return {
    filter: typeof b.filter === 'string' ? b.filter : null,
    continuationToken: typeof b.continuationToken === 'string' ? b.continuationToken : null,
    top: typeof top === 'number' ? top : undefined,
    orderBy: typeof b.orderBy === 'string' ? [b.orderBy] : []
  }
}

/** One sort key of a list: how to read it from an item, and the direction. */
interface SortKey<T> {
  key: (item: T) => string | number | null
  desc: boolean
}

const RUN_ORDER_FIELDS: Record<string, (r: RunRecord) => string | number | null> = {
  CreatedUtc: r => r.createdUtc,
  StartTimeUtc: r => r.startTimeUtc,
  EndTimeUtc: r => r.endTimeUtc,
  RunNumber: r => r.runNumber,
  RunId: r => r.runId,
  Status: r => reportedStatus(r),
  Name: r => r.name
}

const EXPERIMENT_ORDER_FIELDS: Record<string, (e: Experiment) => string | number | null> = {
  CreatedUtc: e => e.createdUtc,
  Name: e => e.name,
  ExperimentId: e => e.experimentId,
  LatestCreatedRunCreatedUtc: e => e.latestCreatedRunCreatedUtc
}

/** Every `$orderby` value of the query (the parameter may repeat, and each may list several columns). */
function orderByParams(ctx: RequestContext): string[] {
  const values: string[] = []
  for (const [key, value] of ctx.query) if (key.toLowerCase() === '$orderby') values.push(value)
  return values
}

/** OData `$orderby`: `Field [asc|desc]` items separated by commas, over the fields a list knows. */
function parseOrderBy<T>(values: string[], fields: Record<string, (item: T) => string | number | null>): Array<SortKey<T>> {
  const keys: Array<SortKey<T>> = []
  for (const part of values.flatMap(v => v.split(',')).map(p => p.trim()).filter(Boolean)) {
    const m = /^(\w+)(?:\s+(asc|desc))?$/i.exec(part)
    const field = m && Object.keys(fields).find(f => f.toLowerCase() === m[1].toLowerCase())
    if (!m || !field) {
      throw validation(`The $orderby item '${part}' is not supported: use one of ${Object.keys(fields).join(', ')}, optionally followed by asc or desc.`, '$orderby')
    }
    keys.push({ key: fields[field], desc: (m[2] ?? 'asc').toLowerCase() === 'desc' })
  }
  return keys
}

/** Sorts by the requested keys, else by `fallback`; stable, so equal items keep their creation order. */
function sortItems<T>(items: T[], keys: Array<SortKey<T>>, fallback: Array<SortKey<T>>): T[] {
  const use = keys.length ? keys : fallback
  if (!use.length) return items
  const compare = (a: string | number | null, b: string | number | null): number => {
    // Missing values (a run not started yet) sort after present ones, as SQL's NULLS LAST.
    if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1
    return a < b ? -1 : a > b ? 1 : 0
  }
  return [...items].sort((x, y) => {
    for (const { key, desc } of use) {
      const c = compare(key(x), key(y))
      if (c !== 0) return desc && key(x) !== null && key(y) !== null ? -c : c
    }
    return 0
  })
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase()
}

function validation(message: string, target?: string): Error {
  return dataPlaneError(400, 'ValidationError', message, { innerCode: 'BadArgument', target })
}
