import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { downloadToFile, uploadFile, withoutQuery } from '../azureml/blob-storage.js'
import { ClassicWebService, type BatchJob, type BlobReference } from '../azureml/classic-web-service.js'
import { Outputs, StateKeys } from '../constants.js'
import { ActionError } from '../errors.js'
import { table } from '../report/markdown.js'
import type { BatchInput, ClassicBatchSettings } from '../settings.js'
import { Aborted, DEFAULT_POLLING, unlessAborted, type OperationContext } from './context.js'
import type { OperationResult } from './result.js'
import type { HostPolicy } from '../http/host-policy.js'
import { keyPipeline } from '../http/key-pipeline.js'
import { isWithin } from '../paths.js'

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

/**
 * The payload as given, or one built around the input file uploaded to blob storage, as the seed's sample
 * program builds it: the single `Input` (whatever the service's one input port is named) and the output of
 * `output1` (the name Studio gives a web service output) in the format the input has, where BES accepts it.
 */
async function jobPayload(input: BatchInput, ctx: OperationContext): Promise<unknown> {
  if (input.kind === 'payload') return input.payload
  const prefix = `azureml-action/${new Date(ctx.now()).toISOString().replace(/[:.]/g, '-')}`
  const blobName = `${prefix}/${path.basename(input.file)}`
  const url = await uploadFile(input.connectionString, input.container, blobName, input.file)
  ctx.logger.info(`Uploaded ${path.basename(input.file)} to ${url}`)
  const location = (name: string) => ({ ConnectionString: input.connectionString, RelativeLocation: `/${input.container}/${name}` })
  return {
    Input: location(blobName),
    Outputs: { output1: location(`${prefix}/output1${outputExtension(input.file)}`) },
    GlobalParameters: {}
  }
}

// The dataset formats BES writes an output in (it refuses any other extension).
const OUTPUT_EXTENSIONS = ['.csv', '.tsv', '.arff']

/** The input's own format when BES can write it, else CSV. */
function outputExtension(file: string): string {
  const extension = path.extname(file).toLowerCase()
  return OUTPUT_EXTENSIONS.includes(extension) ? extension : '.csv'
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
      throw await stopJob(service, jobId, ctx, 'the workflow was cancelled', 'The workflow was cancelled')
    }
    if (job.status !== last) ctx.logger.info(`Batch job ${jobId}: ${job.status}`)
    last = job.status
    if (job.status === 'Finished' || job.status === 'Failed' || job.status === 'Cancelled') return job
    if (timeoutMs !== undefined && ctx.now() - started >= timeoutMs) {
      throw await stopJob(service, jobId, ctx, 'timeout-minutes passed', `Batch job ${jobId} did not finish within timeout-minutes (${settings.timeoutMinutes})`)
    }
    await ctx.sleep(timeoutMs === undefined ? delay : Math.min(delay, Math.max(0, started + timeoutMs - ctx.now())), ctx.signal)
    delay = Math.min(polling.maxMs, Math.round(delay * polling.factor))
  }
}

/**
 * Deletes (cancels) the job the action is giving up on, and returns the error to fail with. Only a delete
 * that went through clears the saved job; otherwise the post step tries again, and the error says the job
 * may still be running.
 */
async function stopJob(service: ClassicWebService, jobId: string, ctx: OperationContext, why: string, what: string): Promise<ActionError> {
  ctx.logger.info(`Deleting batch job ${jobId}: ${why}.`)
  try {
    await service.deleteJob(jobId)
  } catch (error) {
    const reason = (error as Error).message
    ctx.logger.warning(`Could not delete batch job ${jobId}: ${reason}`)
    return new ActionError(`${what}; batch job ${jobId} could not be deleted and may still be running.`, {
      hint: 'The post step of this action tries to delete it again; otherwise delete it with DELETE …/jobs/{job id}?api-version=2.0 or let it finish.'
    })
  }
  ctx.saveState(StateKeys.batchJobToDelete, '')
  return new ActionError(`${what}; batch job ${jobId} was deleted.`)
}

/** Output locations without credentials, downloaded when a directory is given. */
async function collectOutputs(results: Record<string, BlobReference>, directory: string | undefined, ctx: OperationContext, hosts: HostPolicy): Promise<Record<string, { location: string; file?: string }>> {
  const outputs: Record<string, { location: string; file?: string }> = {}
  if (directory) await mkdir(directory, { recursive: true })
  for (const [name, ref] of Object.entries(results)) {
    // A BaseLocation should carry no query, but whatever credential one might carry stays out of the result.
    const location = withoutQuery(`${ref.BaseLocation ?? ''}${ref.RelativeLocation ?? ''}`)
    outputs[name] = { location }
    if (!directory) continue
    if (!ref.BaseLocation || !ref.RelativeLocation || !ref.SasBlobToken) {
      ctx.logger.warning(`Output ${name} has no downloadable location (BaseLocation, RelativeLocation and SasBlobToken are needed).`)
      continue
    }
    const file = outputFile(directory, name, ref.RelativeLocation)
    const sas = ref.SasBlobToken.startsWith('?') ? ref.SasBlobToken : `?${ref.SasBlobToken}`
    const url = `${location}${sas}`
    // The SAS URL comes from the service's answer: https (or loopback http, the local storage emulator) only.
    hosts.assertTransport(url, 'downloading a batch output')
    const bytes = await downloadToFile(url, file)
    ctx.logger.info(`Downloaded output ${name} (${bytes} bytes) to ${file}`)
    outputs[name].file = file
  }
  return outputs
}

/**
 * The file an output is saved as: `{directory}/{output name}{extension of its blob}`. The name comes from the
 * service's answer, so one that is not a plain file name (a path, `.` or `..`) is refused rather than
 * allowed to write anywhere but `classic-output-directory`.
 */
function outputFile(directory: string, name: string, relativeLocation: string): string {
  if (name === '' || name === '.' || name === '..' || /[\\/\0]/.test(name)) {
    throw new ActionError(`The batch job's output name ${JSON.stringify(name)} is not a plain file name (it has a path separator or is . or ..); nothing is downloaded outside classic-output-directory.`)
  }
  const extension = path.posix.extname(relativeLocation)
  const file = path.join(directory, `${name}${/^\.[A-Za-z0-9]{1,16}$/.test(extension) ? extension : ''}`)
  if (file === path.join(directory) || !isWithin(directory, file)) {
    throw new ActionError(`The batch job's output name ${JSON.stringify(name)} would be saved outside classic-output-directory; nothing is downloaded.`)
  }
  return file
}
