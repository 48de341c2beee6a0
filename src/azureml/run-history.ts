import { ActionError } from '../errors.js'
import type { DataPlane } from './data-plane.js'
import type { PaginatedList, Run, RunMetric } from './types.js'

/** history/v1.0: runs, their details and metrics. */
export class RunHistoryClient {
  constructor(private readonly dataPlane: DataPlane) {}

  private get session() {
    return this.dataPlane.session
  }

  private runPath(experiment: string, runId: string): string {
    return `/experiments/${encodeURIComponent(experiment)}/runs/${encodeURIComponent(runId)}`
  }

  /** GET the run; its `status` drives the wait loop. */
  async getRun(experiment: string, runId: string): Promise<Run> {
    const operation = `reading run '${runId}' of experiment '${experiment}'`
    const response = await this.session.pipeline.send({
      method: 'GET',
      url: this.dataPlane.url('history/v1.0', this.runPath(experiment, runId)),
      operation,
      auth: this.session.auth
    })
    const run = response.json<Run>()
    if (!run || typeof run !== 'object' || typeof run.status !== 'string') {
      throw new ActionError(`${operation}: the answer has no run status${response.requestId ? ` (x-ms-request-id: ${response.requestId})` : ''}`)
    }
    return run
  }

  /** PATCH the run's tags (merged with the ones it has). */
  async addTags(experiment: string, runId: string, tags: Record<string, string>): Promise<void> {
    await this.session.pipeline.send({
      method: 'PATCH',
      url: this.dataPlane.url('history/v1.0', this.runPath(experiment, runId)),
      operation: `tagging run '${runId}'`,
      auth: this.session.auth,
      json: { runId, tags }
    })
  }

  /** Every metric the run logged, all pages (`GET …/experiments/{exp}/metrics?$filter=RunId eq {id}`). */
  async listMetrics(experiment: string, runId: string): Promise<RunMetric[]> {
    const metrics: RunMetric[] = []
    let continuationToken: string | undefined
    const operation = `reading the metrics of run '${runId}'`
    for (let page = 0; page < 1000; page++) {
      const response = await this.session.pipeline.send({
        method: 'GET',
        url: this.dataPlane.url('history/v1.0', `/experiments/${encodeURIComponent(experiment)}/metrics`, {
          $filter: `RunId eq ${runId}`,
          $continuationtoken: continuationToken
        }),
        operation,
        auth: this.session.auth
      })
      const body = response.json<PaginatedList<RunMetric>>()
      if (!body || !Array.isArray(body.value)) {
        throw new ActionError(`${operation}: the answer has no 'value' list${response.requestId ? ` (x-ms-request-id: ${response.requestId})` : ''}`)
      }
      metrics.push(...body.value)
      continuationToken = body.continuationToken ?? undefined
      if (!continuationToken) return metrics
    }
    throw new ActionError(`${operation}: more than 1000 pages; giving up`)
  }
}
