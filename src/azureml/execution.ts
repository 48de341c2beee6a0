import { AzureRequestError, parseErrorBody } from '../http/errors.js'
import { multipartBody } from '../http/multipart.js'
import type { DataPlane } from './data-plane.js'
import type { RunDefinition } from './run-definition.js'
import type { StartRunResult } from './types.js'

/** What startrun answered: the run id, and for a 409 (a run with that id exists) the service's error. */
export type StartedRun = { runId: string; existed: false } | { runId: string; existed: true; conflict: AzureRequestError }

/** execution/v1.0: start and cancel runs. */
export class ExecutionClient {
  constructor(private readonly dataPlane: DataPlane) {}

  private experimentPath(experiment: string): string {
    return `/experiments/${encodeURIComponent(experiment)}`
  }

  /**
   * POST startrun as multipart/form-data: `runDefinitionFile` (JSON) and `projectZipFile` (the snapshot,
   * streamed from disk). The run id is chosen by the action and passed as `?runId=`, so a start that is
   * retried after a lost answer meets its own run (409) instead of starting a second one.
   * Returns the run id the service gave, and on a 409 the conflict: whoever gets it must check that the run
   * is there (an earlier attempt started it) before taking it as started.
   */
  async startRun(experiment: string, runId: string, zipPath: string, definition: RunDefinition): Promise<StartedRun> {
    const session = this.dataPlane.session
    const operation = `starting run '${runId}' in experiment '${experiment}'`
    const response = await session.pipeline.send({
      method: 'POST',
      url: this.dataPlane.url('execution/v1.0', `${this.experimentPath(experiment)}/startrun`, { runId }),
      operation,
      auth: session.auth,
      stream: multipartBody([
        { name: 'runDefinitionFile', filename: 'definition.json', contentType: 'application/json', text: JSON.stringify(definition) },
        { name: 'projectZipFile', filename: 'project.zip', contentType: 'application/zip', filePath: zipPath }
      ]),
      // Safe to resend: the run id makes a second start a 409, not a second run.
      idempotent: true,
      okStatuses: [409],
      timeoutMs: 300_000
    })
    if (response.status === 409) {
      const parsed = parseErrorBody(response.status, response.headers, response.text)
      const conflict = new AzureRequestError({ operation, status: 409, code: parsed.code, message: parsed.message, requestId: response.requestId ?? parsed.requestId })
      return { runId, existed: true, conflict }
    }
    const result = response.json<StartRunResult>()
    if (typeof result?.runId !== 'string' || !result.runId) {
      throw response.unexpected('the answer has no runId')
    }
    return { runId: result.runId, existed: false }
  }

  /** POST `…/runId/{runId}/cancel`. Cancelling a run that has already ended is harmless. */
  async cancelRun(experiment: string, runId: string): Promise<void> {
    const session = this.dataPlane.session
    await session.pipeline.send({
      method: 'POST',
      url: this.dataPlane.url('execution/v1.0', `${this.experimentPath(experiment)}/runId/${encodeURIComponent(runId)}/cancel`),
      operation: `cancelling run '${runId}'`,
      auth: session.auth,
      idempotent: true
    })
  }
}
