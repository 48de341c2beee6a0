import { ActionError } from '../errors.js'
import { AzureRequestError, excerpt } from '../http/errors.js'
import type { HttpResponse, Pipeline, RequestSpec } from '../http/pipeline.js'
import type { ClassicService } from '../settings.js'

/** BES job statuses (the service sends the name or its number 0–4). */
export const BATCH_STATUSES = ['NotStarted', 'Running', 'Failed', 'Cancelled', 'Finished'] as const
export type BatchStatus = (typeof BATCH_STATUSES)[number]

/** A BES blob location; the SAS token and connection string are credentials. */
export interface BlobReference {
  ConnectionString?: string | null
  RelativeLocation?: string | null
  BaseLocation?: string | null
  SasBlobToken?: string | null
}

export interface BatchJob {
  status: BatchStatus
  results: Record<string, BlobReference>
  details?: string
}

/** Reads a StatusCode as the service sends it: a number 0–4, a digit string, or the name. */
export function parseBatchStatus(raw: unknown): BatchStatus | undefined {
  if (typeof raw === 'number' && Number.isInteger(raw)) return BATCH_STATUSES[raw]
  if (typeof raw !== 'string') return undefined
  if (/^\d$/.test(raw.trim())) return BATCH_STATUSES[Number(raw.trim())]
  return BATCH_STATUSES.find(s => s.toLowerCase() === raw.trim().toLowerCase())
}

/**
 * A classic Azure ML Studio web service: Request-Response (`/execute`) and Batch Execution (`/jobs`), called
 * directly or through API Management (same paths on the gateway, plus `Ocp-Apim-Subscription-Key`). The
 * service key always goes in `Authorization: Bearer`.
 */
export class ClassicWebService {
  constructor(
    private readonly pipeline: Pipeline,
    private readonly service: ClassicService
  ) {}

  private async send(spec: Omit<RequestSpec, 'auth'>): Promise<HttpResponse> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.service.apiKey}` }
    if (this.service.apimSubscriptionKey) headers['ocp-apim-subscription-key'] = this.service.apimSubscriptionKey
    try {
      return await this.pipeline.send({ ...spec, auth: { kind: 'key', headers } })
    } catch (error) {
      throw this.explain(error)
    }
  }

  /** RRS: `POST …/execute?api-version=2.0&details=true` → the `Results` object. */
  async execute(body: string): Promise<unknown> {
    const operation = 'calling the Request-Response service'
    const response = await this.send({
      method: 'POST',
      url: `${this.service.url}/execute?api-version=2.0&details=true`,
      operation,
      text: { body, contentType: 'application/json' },
      // Scoring has no side effects: a cold service's 502/503 may be retried.
      idempotent: true
    })
    const answer = response.json<{ Results?: unknown }>()
    if (!answer || typeof answer !== 'object' || !('Results' in answer)) {
      throw response.unexpected('the answer has no Results')
    }
    return answer.Results
  }

  /** BES submit: the answer is the job id as a JSON string. Not resent on errors that may have created a job. */
  async submitJob(payload: unknown): Promise<string> {
    const operation = 'submitting the batch job'
    const response = await this.send({ method: 'POST', url: `${this.service.url}/jobs?api-version=2.0`, operation, json: payload })
    const id = response.json<unknown>()
    if (typeof id !== 'string' || !/^[\w-]+$/.test(id)) {
      throw response.unexpected(`the answer is not a job id (a JSON string); got ${excerpt(response.text, 80)}`)
    }
    return id
  }

  /**
   * BES start. Resent when its answer is lost; a resend whose first attempt did start the job gets 400
   * (CannotStartJob: the job is no longer NotStarted), so a 400 after a retry is checked against the job's
   * status: a job that is Running or has ended Finished or Failed was started, and the poll carries on.
   */
  async startJob(jobId: string): Promise<void> {
    try {
      await this.send({ method: 'POST', url: `${this.jobUrl(jobId)}/start?api-version=2.0`, operation: `starting batch job ${jobId}`, idempotent: true })
    } catch (error) {
      if (!(error instanceof AzureRequestError) || error.status !== 400 || error.attempts < 2) throw error
      const { status } = await this.getJob(jobId)
      if (status !== 'Running' && status !== 'Finished' && status !== 'Failed') throw error
      this.pipeline.logger.info(`Batch job ${jobId} is ${status}: the start went through, though its answer was lost.`)
    }
  }

  async getJob(jobId: string): Promise<BatchJob> {
    const operation = `reading batch job ${jobId}`
    const response = await this.send({ method: 'GET', url: `${this.jobUrl(jobId)}?api-version=2.0`, operation })
    const body = response.json<{ StatusCode?: unknown; Results?: Record<string, BlobReference> | null; Details?: string | null }>()
    const status = parseBatchStatus(body?.StatusCode)
    if (!status) throw response.unexpected(`the StatusCode ${JSON.stringify(body?.StatusCode)} is none of ${BATCH_STATUSES.join(', ')} (or 0-4)`)
    const results = body.Results ?? {}
    for (const ref of Object.values(results)) {
      if (ref?.SasBlobToken) this.pipeline.logger.mask(ref.SasBlobToken.replace(/^\?/, ''))
      if (ref?.ConnectionString) this.pipeline.logger.mask(ref.ConnectionString)
    }
    return { status, results, details: body.Details ?? undefined }
  }

  /** DELETE the job (cancels it when still running). */
  async deleteJob(jobId: string): Promise<void> {
    await this.send({ method: 'DELETE', url: `${this.jobUrl(jobId)}?api-version=2.0`, operation: `deleting batch job ${jobId}` })
  }

  private jobUrl(jobId: string): string {
    return `${this.service.url}/jobs/${encodeURIComponent(jobId)}`
  }

  /** A 401 from API Management names the subscription key; one from the service names the service key. */
  private explain(error: unknown): unknown {
    if (!(error instanceof AzureRequestError) || error.status !== 401) return error
    const gateway = /subscription key/i.test(error.azureMessage)
    return new ActionError(error.message, {
      hint: gateway
        ? 'API Management refused the subscription key: check `apim-subscription-key` (a key of a subscription to the API in the API Management developer portal).'
        : 'The web service refused its API key: check `classic-api-key` (the API key on the web service dashboard in Azure ML Studio (classic)).'
    })
  }
}
