import { randomBytes, randomUUID } from 'node:crypto'
import { rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { queryParam, resolveWorkspace, workspacePrefix, type DataPlaneDeps } from './data-plane.js'
import { dataPlaneError } from './errors.js'
import { createRun, ensureExperiment, RUN_ID_PATTERN } from './history.js'
import { json, readBody, type Reply, type RequestContext, type Route } from './http.js'
import { boundaryOf, MultipartError, parseMultipart } from './multipart.js'
import { bindRunDefinition } from './run-definition.js'
import { checkZip } from './snapshot.js'

const PARTS = ['runDefinitionFile', 'projectZipFile'] as const

/** What execution needs beyond the data-plane basics: a folder for uploads being checked. */
export interface ExecutionDeps extends DataPlaneDeps {
  uploadsDir: string
}

/** Execution (`execution/v1.0`): start a run from a zip and a run definition, cancel a run. */
export function executionRoutes(deps: ExecutionDeps): Route[] {
  const E = `${workspacePrefix('execution/v1.0')}/experiments/{exp}`
  const route = (method: string, pattern: string, handler: (ctx: RequestContext) => Reply | Promise<Reply>): Route => ({ method, pattern, service: 'dataPlane', handler })
  return [
    route('POST', `${E}/startrun`, ctx => startRun(deps, ctx)),
    route('POST', `${E}/runId/{runId}/cancel`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, 'Microsoft.MachineLearningServices/workspaces/experiments/runs/submit/action')
      const run = ws.runs.get(ctx.params.runId)
      if (!run || run.experiment.name.toLowerCase() !== ctx.params.exp.toLowerCase()) {
        throw dataPlaneError(404, 'UserError', `Run ${ctx.params.runId} was not found`, { innerCode: 'NotFoundError' })
      }
      deps.runner.cancel(run)
      return json(200, { runId: run.runId })
    })
  ]
}

async function startRun(deps: ExecutionDeps, ctx: RequestContext): Promise<Reply> {
  const { ws, caller } = resolveWorkspace(deps, ctx, 'Microsoft.MachineLearningServices/workspaces/experiments/runs/submit/action')
  const experimentName = ctx.params.exp
  if (!RUN_ID_PATTERN.test(experimentName)) {
    throw bad('ValidationError', `The experiment name '${experimentName}' is not valid: use letters, digits, '-' and '_' (at most 256 characters, starting with a letter or digit).`, 'experimentName')
  }
  const requestedId = queryParam(ctx, 'runId')
  if (requestedId !== null && !RUN_ID_PATTERN.test(requestedId)) {
    throw bad('ValidationError', `The run id '${requestedId}' is not valid: it must match ^[a-zA-Z0-9][\\w-]{0,255}$.`, 'runId')
  }
  const contentType = ctx.req.headers['content-type']
  const boundary = boundaryOf(contentType)
  if (!boundary) {
    throw bad(
      'UserError',
      `The request must be multipart/form-data with a boundary (got '${contentType ?? 'no Content-Type'}'), with the file parts 'runDefinitionFile' and 'projectZipFile'.`
    )
  }
  const body = await readBody(ctx.req, deps.settings.maxUploadBytes)
  let parts
  try {
    parts = parseMultipart(body, boundary)
  } catch (err) {
    if (err instanceof MultipartError) throw bad('UserError', `The multipart/form-data body is malformed: ${err.message}`)
    throw err
  }
  const missing = PARTS.filter(name => !parts.some(p => p.name === name))
  if (missing.length) {
    throw bad('UserError', `The request is missing the multipart part${missing.length > 1 ? 's' : ''} ${missing.map(m => `'${m}'`).join(' and ')}.`, missing[0])
  }
  const definitionPart = parts.find(p => p.name === 'runDefinitionFile')!
  const zipPart = parts.find(p => p.name === 'projectZipFile')!
  let rawDefinition: unknown
  try {
    rawDefinition = JSON.parse(definitionPart.data.toString('utf8').replace(/^\uFEFF/, ''))
  } catch (err) {
    throw bad('UserError', `The part 'runDefinitionFile' is not valid JSON: ${(err as Error).message}`, 'runDefinitionFile')
  }
  const bound = bindRunDefinition(rawDefinition)

  const zipFile = path.join(deps.uploadsDir, `${randomUUID()}.zip`)
  await writeFile(zipFile, zipPart.data)
  const reason = await checkZip(deps.settings.python, zipFile)
  if (reason) {
    await rm(zipFile, { force: true })
    throw bad('UserError', `The part 'projectZipFile' is not a valid zip archive: ${reason}.`, 'projectZipFile')
  }
  // From here to runner.start nothing awaits, so two starts with the same runId cannot both pass the check.
  const runId = requestedId ?? `${experimentName}_${Date.now()}_${randomBytes(4).toString('hex')}`
  const existing = ws.runs.get(runId)
  if (existing) {
    await rm(zipFile, { force: true })
    throw dataPlaneError(409, 'UserError', `Run ${runId} already exists in experiment ${existing.experiment.name}`, { innerCode: 'Conflict' })
  }
  const run = createRun(ws, ensureExperiment(ws, experimentName), runId, caller, {
    runType: 'azureml.scriptrun',
    scriptName: bound.script,
    target: bound.target,
    runDefinition: bound.definition,
    origin: 'startrun'
  })
  run.properties = {
    ContentSnapshotId: randomUUID(),
    '_azureml.ComputeTargetType': ws.computes.has(bound.target.toLowerCase()) ? 'amlcompute' : 'unknown'
  }
  deps.runner.start(ws, run, zipFile, bound)
  return json(200, { runId })
}

function bad(code: 'UserError' | 'ValidationError', message: string, target?: string): Error {
  return dataPlaneError(400, code, message, { innerCode: 'BadArgument', target })
}
