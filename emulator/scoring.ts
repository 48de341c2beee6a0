import { timingSafeEqual } from 'node:crypto'
import { HttpError } from './errors.js'
import { json, readBody, type Reply, type RequestContext, type Route } from './http.js'
import { SCORING_PATTERNS, type DeployedService, type DeployedServices } from './services.js'

/** What the scoring front end needs. */
export interface ScoringDeps {
  services: DeployedServices
}

// A scoring request is a JSON document of rows; anything near this size is a client bug, not a workload.
const BODY_LIMIT = 10 * 1024 * 1024

/**
 * The scoring endpoints of deployed services (`scoringUri`), on the emulator's port: ACI's `/score` per
 * service and AKS's `/api/v1/service/{name}/score`. Key auth is `Authorization: Bearer {primary|secondary key}`.
 *
 * Bodies the reference leaves open (§8, §12.11), chosen to look like the real front ends and scoring scripts:
 * - 401 (missing or wrong key): `text/plain` "Unauthorized…", with `WWW-Authenticate: Bearer`;
 * - 400 (what the model's `run()` refuses): JSON `{"error": "<message>"}`, as a scoring script returning
 *   `AMLResponse(json.dumps({"error": …}), 400)` gives;
 * - 503 while the container is cold (see `coldStartRequests`) or the service is not Healthy: `text/plain`;
 * - 405 for other methods: the inference server's (Flask's) HTML page with `Allow: POST, OPTIONS`.
 */
export function scoringRoutes(deps: ScoringDeps): Route[] {
  const route = (method: string, pattern: string, handler: (ctx: RequestContext) => Reply | Promise<Reply>): Route => ({ method, pattern, service: 'studio', handler })
  const routes: Route[] = []
  for (const computeType of ['ACI', 'AKS'] as const) {
    const score = SCORING_PATTERNS[computeType]
    const swagger = score.replace(/\/score$/, '/swagger.json')
    routes.push(
      route('POST', score, ctx => scoreRequest(deps, ctx, computeType)),
      ...['GET', 'PUT', 'PATCH', 'DELETE'].map(method => route(method, score, ctx => methodNotAllowed(deps, ctx, computeType))),
      route('GET', swagger, ctx => swaggerDoc(find(deps, ctx, computeType)))
    )
  }
  return routes
}

function find(deps: ScoringDeps, ctx: RequestContext, computeType: DeployedService['computeType']): DeployedService {
  const service = deps.services.byName(ctx.params.name)
  if (!service || service.computeType !== computeType) {
    throw text(404, `Not Found: there is no ${computeType} web service named '${ctx.params.name}' at this address.`)
  }
  return service
}

async function scoreRequest(deps: ScoringDeps, ctx: RequestContext, computeType: DeployedService['computeType']): Promise<Reply> {
  const service = find(deps, ctx, computeType)
  // A container that is still starting answers before any auth or model code runs.
  if (service.coldStartRemaining > 0) {
    service.coldStartRemaining -= 1
    throw text(503, 'Service Unavailable: the model container is still starting. Retry the request.')
  }
  if (service.state !== 'Healthy') throw text(503, `Service Unavailable: the service is ${service.state}.`)
  if (service.authEnabled) authenticate(ctx, service)
  const raw = (await readBody(ctx.req, BODY_LIMIT)).toString('utf8')
  const rows = parseRows(raw)
  const { weights, bias } = service.model
  const probabilities = rows.map(([x0, x1]) => 1 / (1 + Math.exp(-(weights[0] * x0 + weights[1] * x1 + bias))))
  const predictions = probabilities.map(p => (p >= 0.5 ? 1 : 0))
  if (service.answer === 'text') {
    const csv = ['prediction,probability', ...predictions.map((p, i) => `${p},${probabilities[i].toFixed(4)}`)].join('\n') + '\n'
    return { status: 200, headers: { 'Content-Type': 'text/csv; charset=utf-8' }, body: csv }
  }
  return json(200, { predictions, probabilities })
}

function authenticate(ctx: RequestContext, service: DeployedService): void {
  const header = ctx.req.headers.authorization
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (!match) throw unauthorized('Unauthorized: the Authorization header is missing or not of the form "Bearer <key>".')
  const given = Buffer.from(match[1])
  for (const [which, key] of [['primary', service.keys.primaryKey], ['secondary', service.keys.secondaryKey]] as const) {
    const expected = Buffer.from(key)
    if (expected.length === given.length && timingSafeEqual(expected, given)) {
      ctx.authenticatedAs = `${service.name}:${which}Key`
      return
    }
  }
  throw unauthorized('Unauthorized: the key is not valid for this service.')
}

/** The rows of `{"data": [[x0, x1], …]}`, or the 400 the scoring script answers. */
function parseRows(raw: string): Array<[number, number]> {
  let body: unknown
  try {
    body = JSON.parse(raw)
  } catch (err) {
    throw scriptError(`Could not parse the request body as JSON: ${(err as Error).message}`)
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !('data' in body)) {
    throw scriptError('The request body must be a JSON object with a "data" array: {"data": [[x0, x1], ...]}.')
  }
  const data = (body as { data: unknown }).data
  if (!Array.isArray(data)) throw scriptError(`"data" must be an array of rows [x0, x1], not ${describe(data)}.`)
  return data.map((row, i) => {
    if (!Array.isArray(row) || row.length !== 2) {
      throw scriptError(`Row ${i} of "data" must be an array of 2 numbers [x0, x1]; got ${describe(row)}.`)
    }
    if (!row.every(v => typeof v === 'number' && Number.isFinite(v))) {
      throw scriptError(`Row ${i} of "data" must hold 2 finite numbers; got ${JSON.stringify(row)}.`)
    }
    return [row[0], row[1]] as [number, number]
  })
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`
  if (value === null) return 'null'
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`
}

function methodNotAllowed(deps: ScoringDeps, ctx: RequestContext, computeType: DeployedService['computeType']): Reply {
  find(deps, ctx, computeType)
  return {
    status: 405,
    headers: { 'Content-Type': 'text/html; charset=utf-8', Allow: 'POST, OPTIONS' },
    body: '<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n'
  }
}

/** The service's swagger document (as inference-schema generates it; public, no key needed). */
function swaggerDoc(service: DeployedService): Reply {
  const row = { type: 'array', items: { type: 'number', format: 'double' }, minItems: 2, maxItems: 2 }
  return json(200, {
    swagger: '2.0',
    info: { title: service.name, description: `API specification for the Azure Machine Learning service ${service.name}`, version: '1.0' },
    schemes: ['http'],
    consumes: ['application/json'],
    produces: [service.answer === 'text' ? 'text/csv' : 'application/json'],
    securityDefinitions: service.authEnabled ? { Bearer: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'For example: Bearer abc123' } } : {},
    paths: {
      '/score': {
        post: {
          description: 'Run web service input on the model and return the predictions and their probabilities',
          security: service.authEnabled ? [{ Bearer: [] }] : [],
          parameters: [{ name: 'body', in: 'body', required: true, schema: { type: 'object', required: ['data'], properties: { data: { type: 'array', items: row } } } }],
          responses: {
            '200': {
              description: 'Success',
              schema:
                service.answer === 'text'
                  ? { type: 'string', description: 'CSV: a header (prediction,probability) and a line per row' }
                  : {
                      type: 'object',
                      properties: { predictions: { type: 'array', items: { type: 'integer', enum: [0, 1] } }, probabilities: { type: 'array', items: { type: 'number', format: 'double' } } }
                    }
            },
            default: { description: 'Failure', schema: { type: 'string' } }
          }
        }
      }
    }
  })
}

function text(status: number, message: string, headers: Record<string, string> = {}): HttpError {
  return new HttpError(status, { kind: 'raw', contentType: 'text/plain; charset=utf-8', body: message }, headers)
}

function unauthorized(message: string): HttpError {
  return text(401, message, { 'WWW-Authenticate': 'Bearer' })
}

function scriptError(message: string): HttpError {
  return new HttpError(400, { kind: 'raw', contentType: 'application/json', body: JSON.stringify({ error: message }) })
}
