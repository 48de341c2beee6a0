import { collectPages, pageItems } from '../http/paging.js'
import { redactUrl } from '../http/redact.js'
import type { DataPlane } from './data-plane.js'
import type { Artifact, ArtifactContentInformation, PaginatedList } from './types.js'

/** The artifact container of a run: origin ExperimentRun, container `dcid.{runId}` (the run's dataContainerId). */
export interface RunContainer {
  runId: string
  dataContainerId?: string
}

function containerOf(run: RunContainer): string {
  return run.dataContainerId || `dcid.${run.runId}`
}

/**
 * artifact/v2.0: the files of a run (logs, outputs). Content is read from the blob URL (with SAS) that
 * `contentinfo` hands out — that request carries no Azure AD token.
 */
export class ArtifactClient {
  constructor(private readonly dataPlane: DataPlane) {}

  private path(run: RunContainer, suffix = ''): string {
    return `/artifacts/ExperimentRun/${encodeURIComponent(containerOf(run))}${suffix}`
  }

  /** Where to download `path` from, or undefined when the run has no such artifact (yet). */
  async contentUri(run: RunContainer, path: string): Promise<string | undefined> {
    const session = this.dataPlane.session
    const operation = `locating artifact '${path}' of run '${run.runId}'`
    const response = await session.pipeline.send({
      method: 'GET',
      url: this.dataPlane.url('artifact/v2.0', this.path(run, '/contentinfo'), { path }),
      operation,
      auth: session.auth,
      okStatuses: [404]
    })
    if (response.status === 404) return undefined
    const info = response.json<ArtifactContentInformation>()
    if (typeof info?.contentUri !== 'string' || !info.contentUri) {
      throw response.unexpected('the answer has no contentUri')
    }
    // The SAS signature is a credential for the blob: keep it out of every log line.
    const signature = new URL(info.contentUri).searchParams.get('sig')
    if (signature) {
      session.pipeline.logger.mask(signature)
      session.pipeline.logger.mask(encodeURIComponent(signature))
    }
    return info.contentUri
  }

  /** Every artifact path of the run (all pages), optionally under a prefix such as `outputs/`. */
  async list(run: RunContainer, prefix?: string): Promise<string[]> {
    const session = this.dataPlane.session
    const operation = `listing the artifacts of run '${run.runId}'`
    const artifacts = await collectPages(operation, async continuationToken => {
      const response = await session.pipeline.send({
        method: 'GET',
        url: this.dataPlane.url('artifact/v2.0', this.path(run), { continuationToken }),
        operation,
        auth: session.auth
      })
      const body = response.json<PaginatedList<Artifact>>()
      return { items: pageItems<Artifact>(response), next: body.continuationToken ?? undefined }
    })
    const paths = artifacts.map(a => a.path).filter((p): p is string => typeof p === 'string')
    return prefix ? paths.filter(p => p.startsWith(prefix)) : paths
  }

  /**
   * The bytes of a blob from `offset` on (`Range: bytes=offset-`). An offset at the end answers 416 from
   * storage, which means "nothing new" here.
   */
  async readFrom(contentUri: string, offset: number): Promise<Buffer> {
    const response = await this.dataPlane.session.pipeline.send({
      method: 'GET',
      url: contentUri,
      operation: `reading ${redactUrl(contentUri).replace(/\?.*$/, '')}`,
      auth: { kind: 'none' },
      headers: { range: `bytes=${offset}-`, 'x-ms-version': '2019-02-02' },
      okStatuses: [416],
      binary: true
    })
    if (response.status === 416) return Buffer.alloc(0)
    const bytes = response.bytes ?? Buffer.alloc(0)
    // A server that ignores Range sends the whole blob with 200.
    return response.status === 200 && offset > 0 ? bytes.subarray(offset) : bytes
  }
}
