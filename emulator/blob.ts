import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { artifactStat, type ArtifactStore } from './artifact-store.js'
import { storageError } from './errors.js'
import type { Reply, RequestContext, Route } from './http.js'
import type { Settings } from './settings.js'
import type { EmulatorState, Workspace } from './state.js'

const SAS_VERSION = '2019-02-02'
/** The blob container Azure ML keeps run artifacts in. */
export const ARTIFACT_CONTAINER = 'azureml'

/**
 * Makes and checks service-SAS URLs for the blob route, with Azure Storage's string-to-sign, so that a
 * client that alters, truncates or outlives a URL is refused the way Storage refuses it.
 */
export class BlobSigner {
  private readonly key = randomBytes(32)

  constructor(private readonly settings: Settings) {}

  /** A read-only SAS URL for an artifact of a workspace; `accountBase` is the storage account's blob endpoint. */
  url(accountBase: string, ws: Workspace, origin: string, container: string, artifactPath: string): string {
    const blobName = `${origin}/${container}/${artifactPath}`
    const expiry = new Date(Math.floor(Date.now() / 1000 + this.settings.sasLifetimeSeconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
    const fields: SasFields = { sp: 'r', st: '', se: expiry, sv: SAS_VERSION, sr: 'b' }
    const sig = this.sign(fields, ws.storageAccountName, ARTIFACT_CONTAINER, blobName)
    const encodedName = blobName.split('/').map(encodeURIComponent).join('/')
    const query = new URLSearchParams({ sv: fields.sv, sr: fields.sr, sp: fields.sp, se: fields.se, sig })
    return `${accountBase}/${ARTIFACT_CONTAINER}/${encodedName}?${query.toString()}`
  }

  /** Throws Storage's 403/404 unless the query carries a valid, unexpired SAS for this blob and method. */
  verify(query: URLSearchParams, account: string, container: string, blobName: string, method: string): void {
    const sig = query.get('sig')
    // Without any SAS the request is anonymous, and a private container hides its blobs.
    if (sig === null) throw storageError(404, 'ResourceNotFound', 'The specified resource does not exist.')
    const authFailed = (detail: string): never => {
      throw storageError(403, 'AuthenticationFailed', 'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.', detail)
    }
    for (const name of ['sv', 'sr', 'sp', 'se']) if (!query.get(name)) authFailed(`${name} is mandatory. Cannot be empty`)
    const fields: SasFields = { sp: query.get('sp') ?? '', st: query.get('st') ?? '', se: query.get('se') ?? '', sv: query.get('sv') ?? '', sr: query.get('sr') ?? '' }
    const expected = this.sign(fields, account, container, blobName)
    const a = Buffer.from(expected)
    const b = Buffer.from(sig)
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      authFailed(`Signature did not match. String to sign used was ${stringToSign(fields, account, container, blobName)}`)
    }
    const expiry = Date.parse(fields.se)
    const start = fields.st ? Date.parse(fields.st) : undefined
    const now = Date.now()
    if (Number.isNaN(expiry) || now >= expiry || (start !== undefined && now < start)) {
      authFailed(
        `Signature not valid in the specified time frame: Start [${start === undefined ? '' : new Date(start).toUTCString()}] - Expiry [${Number.isNaN(expiry) ? fields.se : new Date(expiry).toUTCString()}] - Current [${new Date(now).toUTCString()}]`
      )
    }
    const needed = method === 'GET' || method === 'HEAD' ? 'r' : 'w'
    if (fields.sr !== 'b' || !fields.sp.includes(needed)) {
      throw storageError(403, 'AuthorizationPermissionMismatch', 'This request is not authorized to perform this operation using this permission.')
    }
  }

  private sign(fields: SasFields, account: string, container: string, blobName: string): string {
    return createHmac('sha256', this.key).update(stringToSign(fields, account, container, blobName), 'utf8').digest('base64')
  }
}

interface SasFields {
  sp: string
  st: string
  se: string
  sv: string
  sr: string
}

// Storage's service-SAS string-to-sign for versions 2018-11-09 and later (blob resource).
function stringToSign(f: SasFields, account: string, container: string, blobName: string): string {
  return [f.sp, f.st, f.se, `/blob/${account}/${container}/${blobName}`, '', '', '', f.sv, f.sr, '', '', '', '', '', ''].join('\n')
}

/** What the blob route needs. */
export interface BlobDeps {
  state: EmulatorState
  artifacts: ArtifactStore
  signer: BlobSigner
}

/** The blob route: GET/HEAD with a SAS, ranges, Storage's headers and XML errors. No bearer token. */
export function blobRoutes(deps: BlobDeps): Route[] {
  return [{ method: 'GET', pattern: '/blob/{account}/{container}/{blob*}', service: 'blob', handler: ctx => getBlob(deps, ctx) }]
}

function getBlob(deps: BlobDeps, ctx: RequestContext): Reply {
  const { account, container, blob } = ctx.params
  deps.signer.verify(ctx.query, account, container, blob, ctx.method)
  const ws = [...deps.state.workspaces()].find(w => w.storageAccountName === account)
  if (!ws || container !== ARTIFACT_CONTAINER) throw storageError(404, 'ContainerNotFound', 'The specified container does not exist.')
  const [origin, dataContainer, ...rest] = blob.split('/')
  const artifact = rest.length ? deps.artifacts.get(ws.workspaceId, origin, dataContainer, rest.join('/')) : undefined
  if (!artifact) throw storageError(404, 'BlobNotFound', 'The specified blob does not exist.')
  const { size, etag, lastModified } = artifactStat(artifact)
  const headers: Record<string, string> = {
    'Content-Type': 'application/octet-stream',
    ETag: etag,
    'Last-Modified': lastModified.toUTCString(),
    'Accept-Ranges': 'bytes',
    'x-ms-blob-type': 'BlockBlob',
    'x-ms-version': SAS_VERSION,
    'x-ms-creation-time': new Date(artifact.createdTime).toUTCString(),
    Server: 'Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0'
  }
  const rangeHeader = header(ctx, 'x-ms-range') ?? header(ctx, 'range')
  const parsed = rangeHeader === undefined ? undefined : /^bytes=(\d+)-(\d*)$/.exec(rangeHeader.trim())
  // A range that is not `bytes=N-` or `bytes=N-M` with M >= N is ignored, as HTTP says.
  const range = parsed && (parsed[2] === '' || Number(parsed[2]) >= Number(parsed[1])) ? parsed : undefined
  if (!range) return { status: 200, headers: { ...headers, 'Content-Length': String(size) }, body: { file: artifact.file, start: 0, end: size } }
  const start = Number(range[1])
  const last = range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1)
  if (start >= size) {
    const err = storageError(416, 'InvalidRange', 'The range specified is invalid for the current size of the resource.')
    err.headers['Content-Range'] = `bytes */${size}`
    throw err
  }
  return {
    status: 206,
    headers: { ...headers, 'Content-Length': String(last - start + 1), 'Content-Range': `bytes ${start}-${last}/${size}` },
    body: { file: artifact.file, start, end: last + 1 }
  }
}

function header(ctx: RequestContext, name: string): string | undefined {
  const value = ctx.req.headers[name]
  return Array.isArray(value) ? value[0] : value
}
