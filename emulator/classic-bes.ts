import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { BlobSASPermissions, BlobServiceClient, BlockBlobClient, generateBlobSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob'
import { DEVSTORE_ACCOUNT } from './azurite.js'
import {
  checkGlobalParameters,
  classicError,
  ClassicError,
  readClassicBody,
  resolveClassicService,
  runExperiment,
  type ClassicRouteOptions,
  type ClassicService,
  type ClassicServices,
  type ClassicTable
} from './classic.js'
import { json, type Reply, type RequestContext, type Route } from './http.js'

/** The states of a batch job, in the order of their numeric codes 0–4. */
export const BATCH_JOB_STATUSES = ['NotStarted', 'Running', 'Failed', 'Cancelled', 'Finished'] as const

/** A batch job's state. */
export type BatchJobStatus = (typeof BATCH_JOB_STATUSES)[number]

/** Runtime knobs of batch jobs. */
export interface BatchJobSettings {
  /** `StatusCode` as its name ("Running") or its number (1): clients meet both, so both can be served. */
  statusCodes: 'names' | 'numbers'
  /** The least time a started job stays Running, so clients can poll, time out or cancel. */
  runDelayMs: number
  /** Lifetime of the read-only SAS in a finished job's `Results`. */
  resultSasLifetimeSeconds: number
}

/** A blob reference of the BES API (unused fields null). */
export interface BlobReference {
  ConnectionString: string | null
  RelativeLocation: string
  BaseLocation: string | null
  SasBlobToken: string | null
}

/** A blob a job reads or writes, resolved from a request's blob reference. */
interface BlobLocation {
  container: string
  blob: string
  client: BlockBlobClient
  /** The blob endpoint, ending in '/' (a result's BaseLocation). */
  baseLocation: string
  /** The SAS a result carries: a fresh read-only one for the blob (the one given, for a blob given by SAS URL). */
  readSas: (expiresOn: Date) => string
  /** Another blob of the same container and credentials (none for a SAS URL, which opens one blob only). */
  sibling?: (blob: string) => BlobLocation
}

interface BatchJob {
  id: string
  service: ClassicService
  status: BatchJobStatus
  input: BlobLocation
  output: BlobLocation
  results: Record<string, BlobReference> | null
  details: string | null
  abort: AbortController
  done: Promise<void>
}

const OUTPUT_EXTENSIONS = ['.csv', '.tsv', '.arff']

/**
 * The batch jobs of classic web services. A started job really runs: it reads the input blob from Azure
 * Blob Storage (Azurite, in practice) with the request's connection string or SAS, runs the experiment on
 * it, writes the output blob and reports where it is with a read-only SAS.
 */
export class BatchJobs {
  private readonly jobs = new Map<string, BatchJob>()
  private readonly settings: BatchJobSettings
  /** Options of every storage client of the jobs (a CA to trust, for storage served over the emulator's TLS). */
  private storage: StorageOptions = { retryOptions: RETRY }

  constructor(settings: Partial<BatchJobSettings> = {}) {
    this.settings = { statusCodes: 'names', runDelayMs: 300, resultSasLifetimeSeconds: 24 * 3600 }
    this.configure(settings)
  }

  /** Changes settings (for jobs started from now on) and returns the current ones. */
  configure(change: Partial<BatchJobSettings>): BatchJobSettings {
    const next = { ...this.settings, ...change }
    if (next.statusCodes !== 'names' && next.statusCodes !== 'numbers') throw new Error("statusCodes must be 'names' or 'numbers'.")
    for (const key of ['runDelayMs', 'resultSasLifetimeSeconds'] as const) {
      if (!Number.isInteger(next[key]) || next[key] < 0) throw new Error(`${key} must be an integer >= 0.`)
    }
    Object.assign(this.settings, next)
    return { ...this.settings }
  }

  /** Trusts this CA (PEM) for storage over https, besides no other: the local storage's own certificate. */
  trust(ca: Buffer): void {
    this.storage = { retryOptions: RETRY, tlsOptions: { ca } }
  }

  /** Checks a submit request's body and records a NotStarted job; returns its id. */
  submit(service: ClassicService, body: Record<string, unknown>): string {
    const input = parseBlobReference(selectInput(service, body), 'input', this.storage)
    const id = randomUUID().replace(/-/g, '')
    const output = selectOutput(service, body, input, id, this.storage)
    checkGlobalParameters(body.GlobalParameters)
    this.jobs.set(id, { id, service, status: 'NotStarted', input, output, results: null, details: null, abort: new AbortController(), done: Promise.resolve() })
    return id
  }

  /** Starts a NotStarted job. */
  start(service: ClassicService, jobId: string): void {
    const job = this.find(service, jobId)
    if (job.status !== 'NotStarted') {
      throw classicError('InvalidOperation', { code: 'CannotStartJob', message: `The job cannot be started because it is in ${job.status} state.` })
    }
    job.status = 'Running'
    job.done = this.run(job, this.settings.runDelayMs)
  }

  /** The job as `GET …/jobs/{id}` reports it. */
  status(service: ClassicService, jobId: string): { StatusCode: BatchJobStatus | number; Results: Record<string, BlobReference> | null; Details: string | null } {
    const job = this.find(service, jobId)
    const code = this.settings.statusCodes === 'numbers' ? BATCH_JOB_STATUSES.indexOf(job.status) : job.status
    return { StatusCode: code, Results: job.results, Details: job.details }
  }

  /** Cancels a job that has not ended (`DELETE …/jobs/{id}`); an ended job stays as it is. */
  cancel(service: ClassicService, jobId: string): void {
    const job = this.find(service, jobId)
    if (job.status !== 'NotStarted' && job.status !== 'Running') return
    job.status = 'Cancelled'
    job.abort.abort()
  }

  /** Aborts every running job and waits for them (the emulator's close). */
  async close(): Promise<void> {
    for (const job of this.jobs.values()) job.abort.abort()
    await Promise.all([...this.jobs.values()].map(j => j.done))
  }

  private find(service: ClassicService, jobId: string): BatchJob {
    const job = this.jobs.get(jobId.toLowerCase())
    if (job && job.service === service) return job
    // Not in the published error list; the shape is the API's NotFound class with a specific detail.
    throw classicError('NotFound', { code: 'JobNotFound', message: `Job '${jobId}' was not found. Verify the job Id is correct and try again.` })
  }

  private async run(job: BatchJob, runDelayMs: number): Promise<void> {
    const signal = job.abort.signal
    const started = Date.now()
    try {
      // One GET (not downloadToBuffer's HEAD first), so a failure carries Storage's error message.
      const text = await access(job.input, async () => streamToBuffer((await job.input.client.download(0, undefined, { abortSignal: signal })).readableStreamBody))
      const table = readTable(job.service, text.toString('utf8'), job.input.blob)
      await sleep(Math.max(0, runDelayMs - (Date.now() - started)), undefined, { signal })
      const content = Buffer.from(writeTable(job.service, table, job.output.blob), 'utf8')
      await access(job.output, () => job.output.client.upload(content, content.length, { abortSignal: signal, blobHTTPHeaders: { blobContentType: contentType(job.output.blob) } }))
      if (signal.aborted) return
      const expiresOn = new Date(Date.now() + this.settings.resultSasLifetimeSeconds * 1000)
      job.results = {
        [job.service.outputName]: {
          ConnectionString: null,
          RelativeLocation: `${job.output.container}/${job.output.blob}`,
          BaseLocation: job.output.baseLocation,
          SasBlobToken: job.output.readSas(expiresOn)
        }
      }
      job.status = 'Finished'
    } catch (err) {
      if (signal.aborted) return
      job.status = 'Failed'
      job.details = err instanceof ClassicError ? err.describe() : `InternalError: Execution encountered an internal error. ${(err as Error).message}`
    }
  }
}

/** What the batch execution routes need. */
export interface ClassicBesDeps {
  services: ClassicServices
  jobs: BatchJobs
}

/** The Batch Execution Service of classic web services: submit, start, status, cancel (`…/jobs…?api-version=2.0`). */
export function classicBesRoutes(deps: ClassicBesDeps, options: ClassicRouteOptions = {}): Route[] {
  const jobs = `${options.prefix ?? ''}/workspaces/{ws}/services/{svc}/jobs`
  const route = (method: string, pattern: string, handler: (service: ClassicService, ctx: RequestContext) => Reply | Promise<Reply>): Route => ({
    method,
    pattern,
    service: 'studio',
    handler: ctx => {
      options.gate?.(ctx)
      return handler(resolveClassicService(deps.services, ctx), ctx)
    }
  })
  return [
    // The job id comes back as a JSON string; clients strip the quotes.
    route('POST', jobs, async (service, ctx) => json(200, deps.jobs.submit(service, await readClassicBody(ctx)))),
    route('POST', `${jobs}/{jobId}/start`, (service, ctx) => {
      deps.jobs.start(service, ctx.params.jobId)
      return { status: 200 }
    }),
    route('GET', `${jobs}/{jobId}`, (service, ctx) => json(200, deps.jobs.status(service, ctx.params.jobId))),
    route('DELETE', `${jobs}/{jobId}`, (service, ctx) => {
      deps.jobs.cancel(service, ctx.params.jobId)
      return { status: 200 }
    })
  ]
}

/** The blob reference of the service's input: `Input` (one port) or `Inputs` (by name), never both. */
function selectInput(service: ClassicService, body: Record<string, unknown>): unknown {
  const single = body.Input ?? null
  const named = body.Inputs ?? null
  if (single !== null && named !== null) {
    throw classicError('BadArgument', {
      code: 'DuplicateInputInBatchCall',
      message: 'The batch request is invalid. Cannot specify both single and multiple input at the same time. Remove one of these items from the request and try again.'
    })
  }
  const notSpecified = (): never => {
    throw classicError('BadArgument', {
      code: 'BatchJobInputsNotSpecified',
      message: `The following required input(s) were not specified with the request: ${service.inputName}. Please ensure all input data is specified and try again.`
    })
  }
  if (single !== null) return single
  if (named === null) return notSpecified()
  if (typeof named !== 'object' || Array.isArray(named)) {
    throw classicError('BadArgument', { code: 'RequestBodyInvalid', message: 'No request body provided or error in deserializing the request body.' })
  }
  const names = Object.keys(named)
  const unknown = names.filter(n => n !== service.inputName)
  if (unknown.length && names.includes(service.inputName)) {
    throw classicError('BadArgument', {
      code: 'BatchJobInputsTooManySpecified',
      message: `The request specified more inputs than defined in the service. List of accepted input(s): ${service.inputName}. Please ensure all input data is specified correctly and try again.`
    })
  }
  if (unknown.length) {
    throw classicError('BadArgument', {
      code: 'InvalidInputNames',
      message: `Invalid service input name(s) specified in the request: ${unknown.join(', ')}. Please map the input data to the correct service inputs and try again.`
    })
  }
  const ref = (named as Record<string, unknown>)[service.inputName] ?? null
  return ref === null ? notSpecified() : ref
}

/** The output blob: the request's override, else `{jobId}-{output}.csv` next to the input. */
function selectOutput(service: ClassicService, body: Record<string, unknown>, input: BlobLocation, jobId: string, storage: StorageOptions): BlobLocation {
  const outputs = body.Outputs ?? null
  if (outputs === null) {
    // An input given by SAS URL lends no write access, so there is no default output location.
    if (!input.sibling) {
      throw classicError('BadArgument', {
        code: 'MissingOutputOverrideSpecification',
        message: `The request is missing the blob specification for output override ${service.outputName}. Please specify a valid blob location with the request, or remove the output specification if no location override is desired.`
      })
    }
    return input.sibling(`${jobId}-${service.outputName}.csv`)
  }
  if (typeof outputs !== 'object' || Array.isArray(outputs)) {
    throw classicError('BadArgument', { code: 'RequestBodyInvalid', message: 'No request body provided or error in deserializing the request body.' })
  }
  const unknown = Object.keys(outputs).filter(n => n !== service.outputName)
  if (unknown.length) {
    throw classicError('BadArgument', {
      code: 'InvalidOutputOverrideName',
      message: `Invalid output override name: ${unknown.join(', ')}. The service does not have an output node with this name. Please pass in a correct output node name to override (case sensitivity applies).`
    })
  }
  const ref = (outputs as Record<string, unknown>)[service.outputName] ?? null
  if (ref === null) {
    throw classicError('BadArgument', {
      code: 'MissingOutputOverrideSpecification',
      message: `The request is missing the blob specification for output override ${service.outputName}. Please specify a valid blob location with the request, or remove the output specification if no location override is desired.`
    })
  }
  const output = parseBlobReference(ref, 'output', storage)
  const extension = /\.[^./]*$/.exec(output.blob)?.[0]?.toLowerCase()
  if (!extension || !OUTPUT_EXTENSIONS.includes(extension)) {
    throw classicError('BadArgument', {
      code: 'InvalidBlobExtension',
      message: `The blob reference: ${output.container}/${output.blob} has an invalid or missing file extension. Supported file extensions for this output type are: "${OUTPUT_EXTENSIONS.join(', ')}".`
    })
  }
  return output
}

// Storage errors become job failures quickly instead of after the SDK's default minute of retries.
const RETRY = { maxTries: 2, retryDelayInMs: 200 }

/** What the storage clients of a job are made with. */
interface StorageOptions {
  retryOptions: typeof RETRY
  tlsOptions?: { ca: Buffer }
}

/** Resolves a BlobRef (connection string + RelativeLocation, or BaseLocation + RelativeLocation + SasBlobToken). */
function parseBlobReference(ref: unknown, what: 'input' | 'output', storage: StorageOptions): BlobLocation {
  const missing = (): never => {
    throw classicError('BadArgument', {
      code: 'MissingInputBlobInformation',
      message: 'Missing Azure storage blob information. Provide a valid connection string and relative path or URI and try again.'
    })
  }
  if (typeof ref !== 'object' || ref === null || Array.isArray(ref)) return missing()
  const { ConnectionString, RelativeLocation, BaseLocation, SasBlobToken } = ref as Record<string, unknown>
  const given = (v: unknown): v is string => typeof v === 'string' && v.trim() !== ''
  if (!given(RelativeLocation)) {
    if (given(ConnectionString) || given(BaseLocation)) {
      throw classicError('BadArgument', { code: 'InputBlobRelativeLocationInvalid', message: 'No Azure storage blob name provided. Provide a valid blob name and try again.' })
    }
    return missing()
  }
  const { container, blob } = splitRelativeLocation(RelativeLocation)
  if (given(ConnectionString)) return accountLocation(serviceClient(ConnectionString, storage), ConnectionString, container, blob)
  if (given(BaseLocation) && given(SasBlobToken)) {
    const base = BaseLocation.replace(/\/?$/, '/')
    const token = SasBlobToken.startsWith('?') ? SasBlobToken : `?${SasBlobToken}`
    let url: URL
    try {
      url = new URL(`${base}${encodeBlobPath(container)}/${encodeBlobPath(blob)}${token}`)
    } catch {
      throw classicError('BadArgument', {
        code: 'InvalidBlob',
        message: `Invalid blob specification for blob: ${RelativeLocation}. Verify that connection string / relative path or SAS token specification is correct and try again.`
      })
    }
    checkLocal(url, `the ${what} blob's BaseLocation`)
    return { container, blob, client: new BlockBlobClient(url.toString(), undefined, storage), baseLocation: base, readSas: () => token }
  }
  return missing()
}

/** A blob of an account reached through a connection string (with an account key or a SAS). */
function accountLocation(service: BlobServiceClient, connectionString: string, container: string, blob: string): BlobLocation {
  const credential = service.credential
  // With a SAS connection string the client's URL carries the SAS as its query; a BaseLocation never does.
  const endpoint = new URL(service.url)
  endpoint.search = ''
  endpoint.hash = ''
  return {
    container,
    blob,
    client: service.getContainerClient(container).getBlockBlobClient(blob),
    baseLocation: endpoint.toString().replace(/\/?$/, '/'),
    readSas: expiresOn => {
      const startsOn = new Date(Date.now() - 5 * 60 * 1000)
      const key = credential instanceof StorageSharedKeyCredential ? credential : localAccountCredential(service.accountName)
      const query = generateBlobSASQueryParameters({ containerName: container, blobName: blob, permissions: BlobSASPermissions.parse('r'), startsOn, expiresOn }, key)
      return `?${query.toString()}`
    },
    sibling: other => accountLocation(service, connectionString, container, other)
  }
}

/**
 * The key to sign a result's SAS with when the request gave only a SAS. Azure answers every finished job
 * with a read-only SAS scoped to the output blob, never with the caller's own (wider) SAS; the local service
 * reaches only the local storage, whose one account (Azurite's well-known development account) it knows.
 */
function localAccountCredential(accountName: string): StorageSharedKeyCredential {
  if (accountName !== DEVSTORE_ACCOUNT.name) {
    throw new Error(`the local Azure ML service cannot sign a read-only SAS for storage account '${accountName}' (it knows only ${DEVSTORE_ACCOUNT.name}).`)
  }
  return new StorageSharedKeyCredential(DEVSTORE_ACCOUNT.name, DEVSTORE_ACCOUNT.key)
}

function splitRelativeLocation(relative: string): { container: string; blob: string } {
  const path = relative.trim().replace(/^\/+/, '')
  const slash = path.indexOf('/')
  const container = slash < 0 ? '' : path.slice(0, slash)
  const blob = slash < 0 ? path : path.slice(slash + 1)
  if (container === '') throw classicError('BadArgument', { code: 'ContainerIsEmpty', message: 'No Azure storage container name was provided. Provide a valid container name and try again.' })
  if (!/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/.test(container)) {
    throw classicError('BadArgument', { code: 'ContainerSegmentInvalid', message: 'Invalid container name. Provide a valid container name and try again.' })
  }
  if (blob === '') throw classicError('BadArgument', { code: 'InputBlobRelativeLocationInvalid', message: 'No Azure storage blob name provided. Provide a valid blob name and try again.' })
  return { container, blob }
}

/**
 * A client for the account of a connection string. Only storage on this machine is reachable: the local
 * service must never carry a caller's real account key to Azure.
 */
function serviceClient(connectionString: string, storage: StorageOptions): BlobServiceClient {
  const invalid = (why: string): never => {
    throw classicError('BadArgument', {
      code: 'InvalidBlobConnectionString',
      message: `The connection string specified for one of the input/output blobs in invalid: ${why}. Please correct this and try again.`
    })
  }
  const fields = new Map<string, string>()
  for (const part of connectionString.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0) fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim())
  }
  let endpoint: string
  if (fields.get('usedevelopmentstorage')?.toLowerCase() === 'true') {
    endpoint = 'http://127.0.0.1:10000/devstoreaccount1'
  } else {
    const account = fields.get('accountname')
    if (!fields.has('blobendpoint') && !account) invalid('it has neither AccountName nor BlobEndpoint')
    if (!fields.has('accountkey') && !fields.has('sharedaccesssignature')) invalid('it has neither AccountKey nor SharedAccessSignature')
    endpoint = fields.get('blobendpoint') ?? `${fields.get('defaultendpointsprotocol') ?? 'https'}://${account}.blob.${fields.get('endpointsuffix') ?? 'core.windows.net'}`
  }
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    return invalid(`'${endpoint}' is not a valid blob endpoint`)
  }
  checkLocal(url, 'the connection string')
  try {
    return BlobServiceClient.fromConnectionString(connectionString, storage)
  } catch (err) {
    return invalid((err as Error).message)
  }
}

function checkLocal(url: URL, what: string): void {
  const host = url.hostname.replace(/^\[|\]$/g, '')
  // 0.0.0.0 reaches this machine too (tests use it as a non-loopback name for it).
  if (host === 'localhost' || host === '::1' || host === '0.0.0.0' || /^127\.\d+\.\d+\.\d+$/.test(host)) return
  throw classicError('BadArgument', {
    code: 'InvalidBlob',
    message: `The local Azure ML service only reaches blob storage on this machine (such as Azurite), but ${what} points at ${url.host}.`
  })
}

/** Runs a storage call, turning its failure into the job's BlobNotFound detail (with Storage's message). */
async function access<T>(location: BlobLocation, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err
    const { code, statusCode } = err as { code?: string; statusCode?: number }
    const message = (err as Error).message.split('\n')[0].trim().replace(/\.$/, '') || code || `HTTP ${statusCode ?? 'error'}`
    throw classicError('BadArgument', {
      code: 'BlobNotFound',
      message: `Unable to access the provided Azure blob - /${location.container}/${location.blob}.  Azure error message: ${message}.`
    })
  }
}

async function streamToBuffer(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  const chunks: Buffer[] = []
  if (stream) for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))
  return Buffer.concat(chunks)
}

/** Reads a CSV (or, for `.tsv`, tab-separated) input with a header row and runs the experiment on it. */
function readTable(service: ClassicService, text: string, blob: string): ClassicTable {
  const records = parseDelimited(text.replace(/^\uFEFF/, ''), blob.toLowerCase().endsWith('.tsv') ? '\t' : ',')
  if (records.length === 0) {
    throw classicError('ModuleExecutionError', { code: 'ModuleExecutionError', message: `Error 0020: The input dataset ${blob} has no header row; it needs a column named ${service.inputColumn}.` })
  }
  const [header, ...rows] = records
  return runExperiment(service, header, rows)
}

/** RFC 4180 records: quoted fields may hold the separator, quotes ("") and line breaks; blank lines are skipped. */
function parseDelimited(text: string, separator: string): string[][] {
  const records: string[][] = []
  let record: string[] = []
  let field = ''
  let quoted = false
  let i = 0
  const endRecord = (): void => {
    record.push(field)
    if (!(record.length === 1 && record[0] === '')) records.push(record)
    record = []
    field = ''
  }
  while (i < text.length) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"'
        i += 2
        continue
      }
      if (c === '"') quoted = false
      else field += c
      i += 1
      continue
    }
    if (c === '"' && field === '') quoted = true
    else if (c === separator) {
      record.push(field)
      field = ''
    } else if (c === '\r' && text[i + 1] === '\n') {
      endRecord()
      i += 1
    } else if (c === '\n' || c === '\r') endRecord()
    else field += c
    i += 1
  }
  if (field !== '' || record.length) endRecord()
  return records
}

/** The output table in the format its blob name asks for (CSV, TSV or ARFF). */
function writeTable(service: ClassicService, table: ClassicTable, blob: string): string {
  const lower = blob.toLowerCase()
  if (lower.endsWith('.arff')) {
    const quote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
    const attributes = table.columnNames.map((name, i) => `@attribute ${quote(name)} ${table.columnTypes[i] === 'String' ? 'string' : 'numeric'}`)
    const rows = table.values.map(row => row.map((v, i) => (v === null ? '?' : table.columnTypes[i] === 'String' ? quote(v) : v)).join(','))
    return [`@relation ${quote(service.name)}`, '', ...attributes, '', '@data', ...rows, ''].join('\n')
  }
  const separator = lower.endsWith('.tsv') ? '\t' : ','
  const cell = (v: string | null): string => (v === null ? '' : /[",\r\n\t]|^\s|\s$/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)
  return [table.columnNames, ...table.values].map(row => row.map(cell).join(separator)).join('\r\n') + '\r\n'
}

function contentType(blob: string): string {
  const lower = blob.toLowerCase()
  return lower.endsWith('.tsv') ? 'text/tab-separated-values' : lower.endsWith('.arff') ? 'text/plain' : 'text/csv'
}

function encodeBlobPath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/')
}
