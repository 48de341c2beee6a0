import type { DataPlane } from './data-plane.js'
import { metricShapeProblem } from './metrics.js'
import { collectPages, pageItems } from '../http/paging.js'
import type { Experiment, PaginatedList, Run, RunMetric } from './types.js'

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
    return (await this.readRun(experiment, runId, false)) as Run
  }

  /** The run, or undefined when run history does not know it (404): whether a start got through. */
  async findRun(experiment: string, runId: string): Promise<Run | undefined> {
    return this.readRun(experiment, runId, true)
  }

  private async readRun(experiment: string, runId: string, unknownIsAnswer: boolean): Promise<Run | undefined> {
    const operation = `reading run '${runId}' of experiment '${experiment}'`
    const response = await this.session.pipeline.send({
      method: 'GET',
      url: this.dataPlane.url('history/v1.0', this.runPath(experiment, runId)),
      operation,
      auth: this.session.auth,
      okStatuses: unknownIsAnswer ? [404] : undefined
    })
    if (response.status === 404) return undefined
    const run = response.json<Run>()
    if (!run || typeof run !== 'object' || typeof run.status !== 'string') {
      throw response.unexpected('the answer has no run status')
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
    const operation = `reading the metrics of run '${runId}'`
    return collectPages(operation, async continuationToken => {
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
      const items = pageItems<unknown>(response)
      // A metric of another shape would otherwise surface as a TypeError deep in the metrics output.
      items.forEach((metric, index) => {
        const problem = metricShapeProblem(metric)
        if (problem) throw response.unexpected(`metric ${index + 1} of the list ${problem}`)
      })
      return { items: items as RunMetric[], next: body.continuationToken ?? undefined }
    })
  }

  /** The workspace's experiments, all pages. */
  async listExperiments(): Promise<Experiment[]> {
    const operation = 'listing the experiments'
    return collectPages(operation, async continuationToken => {
      const response = await this.session.pipeline.send({
        method: 'GET',
        url: this.dataPlane.url('history/v1.0', '/experiments', { $continuationtoken: continuationToken }),
        operation,
        auth: this.session.auth
      })
      const body = response.json<PaginatedList<Experiment>>()
      return { items: pageItems<Experiment>(response), next: body.continuationToken ?? undefined }
    })
  }

  /** The runs of an experiment, newest first, all pages. */
  async listRuns(experiment: string): Promise<Run[]> {
    const operation = `listing the runs of experiment '${experiment}'`
    return collectPages(operation, async continuationToken => {
      const response = await this.session.pipeline.send({
        method: 'GET',
        url: this.dataPlane.url('history/v1.0', `/experiments/${encodeURIComponent(experiment)}/runs`, {
          $orderby: 'CreatedUtc desc',
          $continuationtoken: continuationToken
        }),
        operation,
        auth: this.session.auth
      })
      const body = response.json<PaginatedList<Run>>()
      return { items: pageItems<Run>(response), next: body.continuationToken ?? undefined }
    })
  }
}
