import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { downloadToFile, uploadFile } from '../azureml/blob-storage.js'
import { ClassicWebService, type BatchJob, type BlobReference } from '../azureml/classic-web-service.js'
import { Outputs, StateKeys } from '../constants.js'
import { ActionError } from '../errors.js'
import { table } from '../report/markdown.js'
import type { BatchInput, ClassicBatchSettings } from '../settings.js'
import { Aborted, DEFAULT_POLLING, unlessAborted, type OperationContext } from './context.js'
import type { OperationResult } from './result.js'
import type { HostPolicy } from '../http/host-policy.js'
import { keyPipeline } from '../http/key-pipeline.js'

/**
 * `classic-batch`: the Batch Execution Service done as the seed's sample program does it, but safely:
 * (optionally) upload the input file to blob storage and build the payload, submit, start, poll with
 * backoff, and on Finished report the output locations (without their SAS tokens) and download them.
 * A cancelled workflow or `timeout-minutes` deletes (cancels) the job.
 */
export async function classicBatch(settings: ClassicBatchSettings, ctx: OperationContext): Promise<OperationResult> {
  const pipeline = keyPipeline(ctx)
  const service = new ClassicWebService(pipeline, settings.service)
  try {
    const payload = await jobPayload(settings.input, ctx)
    const jobId = await service.submitJob(payload)
    ctx.setOutput(Outputs.jobId, jobId)
    ctx.saveState(StateKeys.batchJobToDelete, JSON.stringify({ url: settings.service.url, jobId }))
    ctx.logger.info(`Submitted batch job ${jobId}`)
    await service.startJob(jobId)
    const job = await pollJob(service, jobId, settings, ctx)
    ctx.saveState(StateKeys.batchJobToDelete, '')
    if (job.status !== 'Finished') {
      throw new ActionError(`Batch job ${jobId} ended ${job.status}${job.details ? `: ${job.details}` : ''}`)
    }
    const outputs = await collectOutputs(job.results, settings.outputDirectory, ctx, pipeline.hostPolicy)
    return {
      outputs: { [Outputs.jobId]: jobId, [Outputs.result]: JSON.stringify(outputs) },
      summary: `### Batch job ${jobId}: Finished\n\n${table(['Output', 'Location', 'Downloaded to'], Object.entries(outputs).map(([name, o]) => [name, o.location, o.file ?? '']))}\n`
    }
  } finally {
    pipeline.dispose()
  }
}

/** The payload as given, or one built around the input file uploaded to blob storage. */
async function jobPayload(input: BatchInput, ctx: OperationContext): Promise<unknown> {
  if (input.kind === 'payload') return input.payload
  const prefix = `azureml-action/${new Date(ctx.now()).toISOString().replace(/[:.]/g, '-')}`
  const blobName = `${prefix}/${path.basename(input.file)}`
  const url = await uploadFile(input.connectionString, input.container, blobName, input.file)
  ctx.logger.info(`Uploaded ${path.basename(input.file)} to ${url}`)
  const location = (name: string) => ({ ConnectionString: input.connectionString, RelativeLocation: `/${input.container}/${name}` })
  return {
    Inputs: { input1: location(blobName) },
    Outputs: { output1: location(`${prefix}/output1${path.extname(input.file) || '.csv'}`) },
    GlobalParameters: {}
  }
}

async function pollJob(service: ClassicWebService, jobId: string, settings: ClassicBatchSettings, ctx: OperationContext): Promise<BatchJob> {
  const polling = { ...DEFAULT_POLLING, ...ctx.polling }
  const started = ctx.now()
  const timeoutMs = settings.timeoutMinutes === undefined ? undefined : settings.timeoutMinutes * 60_000
  let delay = polling.initialMs
  let last: string | undefined
  for (;;) {
    let job: BatchJob
    try {
      job = await unlessAborted(service.getJob(jobId), ctx.signal)
    } catch (error) {
      if (!(error instanceof Aborted)) throw error
      await deleteQuietly(service, jobId, ctx, 'the workflow was cancelled')
      throw new ActionError(`The workflow was cancelled; batch job ${jobId} was deleted.`)
    }
    if (job.status !== last) ctx.logger.info(`Batch job ${jobId}: ${job.status}`)
    last = job.status
    if (job.status === 'Finished' || job.status === 'Failed' || job.status === 'Cancelled') return job
    if (timeoutMs !== undefined && ctx.now() - started >= timeoutMs) {
      await deleteQuietly(service, jobId, ctx, 'timeout-minutes passed')
      ctx.saveState(StateKeys.batchJobToDelete, '')
      throw new ActionError(`Batch job ${jobId} did not finish within timeout-minutes (${settings.timeoutMinutes}); it was deleted.`)
    }
    await ctx.sleep(timeoutMs === undefined ? delay : Math.min(delay, Math.max(0, started + timeoutMs - ctx.now())), ctx.signal)
    delay = Math.min(polling.maxMs, Math.round(delay * polling.factor))
  }
}

async function deleteQuietly(service: ClassicWebService, jobId: string, ctx: OperationContext, why: string): Promise<void> {
  ctx.logger.info(`Deleting batch job ${jobId}: ${why}.`)
  try {
    await service.deleteJob(jobId)
    ctx.saveState(StateKeys.batchJobToDelete, '')
  } catch (error) {
    ctx.logger.warning(`Could not delete batch job ${jobId}: ${(error as Error).message}`)
  }
}

/** Output locations without credentials, downloaded when a directory is given. */
async function collectOutputs(results: Record<string, BlobReference>, directory: string | undefined, ctx: OperationContext, hosts: HostPolicy): Promise<Record<string, { location: string; file?: string }>> {
  const outputs: Record<string, { location: string; file?: string }> = {}
  if (directory) await mkdir(directory, { recursive: true })
  for (const [name, ref] of Object.entries(results)) {
    const location = `${ref.BaseLocation ?? ''}${ref.RelativeLocation ?? ''}`
    outputs[name] = { location }
    if (!directory) continue
    if (!ref.BaseLocation || !ref.RelativeLocation || !ref.SasBlobToken) {
      ctx.logger.warning(`Output ${name} has no downloadable location (BaseLocation, RelativeLocation and SasBlobToken are needed).`)
      continue
    }
    const sas = ref.SasBlobToken.startsWith('?') ? ref.SasBlobToken : `?${ref.SasBlobToken}`
    const url = `${location}${sas}`
    // The SAS URL comes from the service's answer: https (or loopback http, the local storage emulator) only.
    hosts.assertTransport(url, 'downloading a batch output')
    const file = path.join(directory, `${name}${path.extname(ref.RelativeLocation) || ''}`)
    const bytes = await downloadToFile(url, file)
    ctx.logger.info(`Downloaded output ${name} (${bytes} bytes) to ${file}`)
    outputs[name].file = file
  }
  return outputs
}
