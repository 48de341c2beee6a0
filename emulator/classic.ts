import { timingSafeEqual } from 'node:crypto'
import { HttpError } from './errors.js'
import { hashFeatures, hashingColumnNames, type FeatureHashingOptions } from './feature-hashing.js'
import { readBody, type RequestContext } from './http.js'

/**
 * The classic web service every emulator starts with: Appendix A of the API Management guide (seed 004),
 * "SimpleFeatureHashingExperiment" — one text column in, Feature Hashing with hashing bitsize 3 (8 columns)
 * and bigrams out. Ids and key are fixed so that a README, a workflow or a test can name them; the key only
 * opens this local service but has the shape of a real one (64 random bytes in base64).
 */
export const CLASSIC_DEMO = {
  workspaceId: 'e8edbdd8bed1fab2f668e9274c196d0c',
  serviceId: '1736a2aafdfd811f869ff5aecac172b8',
  name: 'SimpleFeatureHashingExperiment',
  apiKey: 'sLS9v0f+GFgHJadDg2P1YqdlDsGRVHfjtgFSayibAOs+db7a0OSBMfrWO7vOQUQfyK8jdvPBnLcu+cG2M4Gf5Q==',
  inputName: 'input1',
  outputName: 'output1',
  inputColumn: 'Col2',
  hashing: { bits: 3, ngrams: 2 }
} as const

/** A published classic web service (one table input, one table output, no web service parameters). */
export interface ClassicService {
  workspaceId: string
  serviceId: string
  name: string
  /** Primary and secondary API keys. */
  apiKeys: readonly string[]
  inputName: string
  outputName: string
  /** The text column of the input port schema. */
  inputColumn: string
  hashing: FeatureHashingOptions
}

/** The classic web services this emulator publishes, by workspace id and service id (32 hex digits each). */
export class ClassicServices {
  private readonly services: ClassicService[] = []

  /** Seeds {@link CLASSIC_DEMO} unless `seed` is false. */
  constructor(seed = true) {
    if (seed) {
      const { apiKey, hashing, ...rest } = CLASSIC_DEMO
      this.add({ ...rest, apiKeys: [apiKey], hashing: { ...hashing } })
    }
  }

  add(service: ClassicService): void {
    if (!HEX32.test(service.workspaceId) || !HEX32.test(service.serviceId)) throw new Error('Classic workspace and service ids are 32 hex digits.')
    this.services.push(service)
  }

  /** The service at this address, or the 400/404 the classic front end answers. */
  find(workspaceId: string, serviceId: string): ClassicService {
    const inWorkspace = this.services.filter(s => s.workspaceId.toLowerCase() === workspaceId.toLowerCase())
    if (inWorkspace.length === 0) throw classicError('NotFound', { code: 'WorkspaceNotFound', message: 'Workspace not found. Verify the workspace Id is correct and try again.' })
    // The front end accepts the id with or without dashes, but it has to be a GUID.
    const id = serviceId.replace(/-/g, '').toLowerCase()
    if (!HEX32.test(id)) {
      throw classicError('BadArgument', { code: 'WebServiceIdInvalid', message: 'Invalid web service id provided. Web service id should be a valid guid.' })
    }
    const service = inWorkspace.find(s => s.serviceId.toLowerCase() === id)
    if (service) return service
    if (this.services.some(s => s.serviceId.toLowerCase() === id)) {
      throw classicError('NotFound', {
        code: 'WebServiceIdNotFoundInWorkspace',
        message:
          'Web service under this workspace not found. There is a mismatch between the webServiceId and the workspaceId. Verify the web service provided is part of the workspace and try again.'
      })
    }
    throw classicError('NotFound', { code: 'WebServiceNotFound', message: 'Web service not found. Verify the web service Id is correct and try again.' })
  }
}

const HEX32 = /^[0-9a-f]{32}$/i

/** One entry of a classic error's `details`. */
export interface ClassicErrorDetail {
  code: string
  message: string
  target?: string
}

// The error classes of the classic web service API ("REST API Error Codes"): status and fixed message.
const CLASSES = {
  BadArgument: [400, 'Invalid argument provided.'],
  BadUserArgument: [400, 'Invalid user argument provided.'],
  InvalidOperation: [400, 'The request is invalid in the current context.'],
  ModuleExecutionError: [400, 'Module execution encountered an error.'],
  Unauthorized: [401, 'Request is unauthorized to access resource.'],
  NotFound: [404, 'Resource not found.']
} as const satisfies Record<string, readonly [number, string]>

/** An error class of the classic API. */
export type ClassicErrorClass = keyof typeof CLASSES

/** A classic web service error: `{"error":{"code","message","details":[{code,message,target?}]}}`. */
export class ClassicError extends HttpError {
  constructor(
    readonly errorClass: ClassicErrorClass,
    readonly detail: ClassicErrorDetail | undefined
  ) {
    const [status, message] = CLASSES[errorClass]
    const body = JSON.stringify({ error: { code: errorClass, message, details: detail ? [detail] : [] } })
    super(status, { kind: 'raw', contentType: 'application/json; charset=utf-8', body })
  }

  /** The text a batch job's `Details` carries for this error. */
  describe(): string {
    return this.detail ? `${this.detail.code}: ${this.detail.message}` : `${this.errorClass}: ${CLASSES[this.errorClass][1]}`
  }
}

/** A classic error of this class with this detail. */
export function classicError(errorClass: ClassicErrorClass, detail?: ClassicErrorDetail): ClassicError {
  return new ClassicError(errorClass, detail)
}

/** How classic routes are mounted: at the service's own paths, or behind a gateway that checks first. */
export interface ClassicRouteOptions {
  /** Path prefix before `/workspaces/…` (none on the classic host, the API suffix on API Management). */
  prefix?: string
  /** Runs before the service sees the request (API Management's subscription key check). */
  gate?: (ctx: RequestContext) => void
}

/**
 * The service a classic request addresses, once the caller proved the API key and named a supported
 * api-version: 404/400 for an unknown address, then 401, then 400 BadVersionCall.
 */
export function resolveClassicService(services: ClassicServices, ctx: RequestContext): ClassicService {
  const service = services.find(ctx.params.ws, ctx.params.svc)
  const header = ctx.req.headers.authorization
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header)
  const given = Buffer.from(match?.[1] ?? '')
  const ok = match !== null && service.apiKeys.some(k => Buffer.byteLength(k) === given.length && timingSafeEqual(Buffer.from(k), given))
  if (!ok) throw classicError('Unauthorized', { code: 'ScoreRequestUnauthorized', message: 'Invalid credentials provided.' })
  ctx.authenticatedAs = `classic-api-key:${service.name}`
  const version = ctx.query.get('api-version')
  if (version !== '2.0') {
    throw classicError('BadArgument', {
      code: 'BadVersionCall',
      message: `Invalid version parameter was passed during the API call: ${version ?? ''}. Check the API help page for passing the correct version and try again.`
    })
  }
  return service
}

/** The JSON object of a classic request body, or 400 RequestBodyInvalid. */
export async function readClassicBody(ctx: RequestContext): Promise<Record<string, unknown>> {
  const raw = (await readBody(ctx.req, 32 * 1024 * 1024)).toString('utf8')
  let body: unknown
  try {
    body = JSON.parse(raw)
  } catch {
    body = undefined
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw classicError('BadArgument', { code: 'RequestBodyInvalid', message: 'No request body provided or error in deserializing the request body.' })
  }
  return body as Record<string, unknown>
}

/** Refuses web service parameters: the demo experiment publishes none. */
export function checkGlobalParameters(value: unknown): void {
  if (value === undefined || value === null) return
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw classicError('BadArgument', { code: 'RequestBodyInvalid', message: 'No request body provided or error in deserializing the request body.' })
  }
  const names = Object.keys(value)
  if (names.length) {
    throw classicError('BadArgument', {
      code: 'UnexpectedParameter',
      target: names.join(', '),
      message: 'Unexpected parameters provided. Verify all parameter names are spelled correctly, only expected parameters are passed, and try again.'
    })
  }
}

/** A data table as the classic API carries it (all values as strings, missing values as null). */
export interface ClassicTable {
  columnNames: string[]
  columnTypes: string[]
  values: Array<Array<string | null>>
}

/**
 * Reads the input table of a request (`ColumnNames` + `Values`) and runs the experiment on it: the input
 * port keeps the schema's text column, Feature Hashing appends its `{column}_HashingFeature.{i}` counts.
 */
export function runExperiment(service: ClassicService, columnNames: unknown, values: unknown): ClassicTable {
  const parseError = (details: string): never => {
    throw classicError('BadUserArgument', {
      code: 'InputParseError',
      target: service.inputName,
      message: `Parsing of input vector failed.  Verify the input vector has the correct number of columns and data types.  Additional details: ${details}.`
    })
  }
  if (!Array.isArray(columnNames) || !columnNames.every(c => typeof c === 'string')) parseError('ColumnNames must be an array of column names')
  const names = columnNames as string[]
  if (!Array.isArray(values)) parseError('Values must be an array of rows')
  const column = names.indexOf(service.inputColumn)
  if (column < 0) {
    throw classicError('BadUserArgument', {
      code: 'InputMismatchError',
      target: service.inputName,
      message: `Input data does not match input port schema. The schema has column(s): ${service.inputColumn}.`
    })
  }
  const texts = (values as unknown[]).map((row, i) => {
    if (!Array.isArray(row)) return parseError(`row ${i} is not an array`)
    if (row.length !== names.length) return parseError(`row ${i} has ${row.length} value(s) for ${names.length} column(s)`)
    const cell: unknown = row[column]
    if (cell === null || cell === undefined) return null
    if (typeof cell === 'string') return cell
    if (typeof cell === 'number' || typeof cell === 'boolean') return String(cell)
    return parseError(`row ${i}, column '${service.inputColumn}' is not a string`)
  })
  return {
    columnNames: [service.inputColumn, ...hashingColumnNames(service.inputColumn, service.hashing.bits)],
    columnTypes: ['String', ...new Array<string>(2 ** service.hashing.bits).fill('Int32')],
    values: texts.map(text => [text, ...hashFeatures(text, service.hashing).map(String)])
  }
}
