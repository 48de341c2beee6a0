import { ApiVersions } from '../constants.js'
import { ActionError } from '../errors.js'
import { waitForLongRunning, type OperationTiming } from '../http/long-running.js'
import { collectPages, pageItems } from '../http/paging.js'
import type { HttpResponse } from '../http/pipeline.js'
import { retryAfterMs } from '../http/retry.js'
import { workspacePath, type AzureSession, type WorkspaceRef } from './session.js'

/** ARM ComputeResource (the fields the action reads). */
export interface ComputeResource {
  id?: string
  name?: string
  location?: string
  properties?: {
    computeType?: string
    provisioningState?: string
    description?: string
    provisioningErrors?: { error?: { code?: string; message?: string } }[]
    properties?: {
      vmSize?: string
      vmPriority?: string
      scaleSettings?: { minNodeCount?: number; maxNodeCount?: number; nodeIdleTimeBeforeScaleDown?: string }
      currentNodeCount?: number
    }
  }
}

/** What `create-compute` asks for. */
export interface AmlComputeSpec {
  name: string
  location: string
  vmSize: string
  vmPriority: 'Dedicated' | 'LowPriority'
  minNodes: number
  maxNodes: number
  idleSecondsBeforeScaleDown: number
}

/** Provisioning states of a compute that are still on their way to Succeeded or Failed. */
const PROVISIONING = new Set(['creating', 'updating'])
/** Polls of the compute itself, when ARM gives no Retry-After: 1 s, doubling up to 15 s. */
const FIRST_POLL_MS = 1000
const MAX_POLL_MS = 15_000

/** Computes of a workspace, on ARM. */
export class ComputeClient {
  constructor(
    private readonly session: AzureSession,
    private readonly ref: WorkspaceRef
  ) {}

  private url(suffix = ''): string {
    return `${this.session.cloud.resourceManager}${workspacePath(this.ref)}/computes${suffix}`
  }

  /** Every compute of the workspace (all pages). */
  async list(): Promise<ComputeResource[]> {
    const operation = `listing the computes of workspace '${this.ref.workspaceName}'`
    return collectPages(operation, async nextLink => {
      const response = await this.session.pipeline.send({
        method: 'GET',
        url: nextLink ?? `${this.url()}?api-version=${ApiVersions.machineLearningServices}`,
        operation,
        auth: this.session.auth
      })
      const body = response.json<{ nextLink?: string }>()
      return { items: pageItems<ComputeResource>(response), next: body.nextLink ?? undefined }
    })
  }

  async get(name: string): Promise<ComputeResource> {
    return (await this.read(name)).json<ComputeResource>()
  }

  private read(name: string): Promise<HttpResponse> {
    return this.session.pipeline.send({
      method: 'GET',
      url: `${this.url(`/${encodeURIComponent(name)}`)}?api-version=${ApiVersions.machineLearningServices}`,
      operation: `reading compute '${name}'`,
      auth: this.session.auth
    })
  }

  /**
   * PUT an AmlCompute cluster (create, or update its scale settings) and wait until it is provisioned.
   * A provisioning failure becomes an error with the operation's (or the compute's) error.
   */
  async createOrUpdate(spec: AmlComputeSpec, timing: OperationTiming): Promise<ComputeResource> {
    const operation = `creating compute '${spec.name}'`
    const deadline = timing.now() + timing.timeoutMs
    const response = await this.session.pipeline.send({
      method: 'PUT',
      url: `${this.url(`/${encodeURIComponent(spec.name)}`)}?api-version=${ApiVersions.machineLearningServices}`,
      operation,
      auth: this.session.auth,
      json: {
        location: spec.location,
        properties: {
          computeType: 'AmlCompute',
          properties: {
            vmSize: spec.vmSize,
            vmPriority: spec.vmPriority,
            scaleSettings: {
              minNodeCount: spec.minNodes,
              maxNodeCount: spec.maxNodes,
              nodeIdleTimeBeforeScaleDown: `PT${spec.idleSecondsBeforeScaleDown}S`
            }
          }
        }
      }
    })
    await waitForLongRunning(response, { pipeline: this.session.pipeline, auth: this.session.auth, operation, ...timing })
    const compute = await this.untilProvisioned(spec.name, operation, timing, deadline)
    const state = compute.properties?.provisioningState
    if (state && state !== 'Succeeded') {
      const errors = (compute.properties?.provisioningErrors ?? []).map(e => `${e.error?.code ?? 'Error'}: ${e.error?.message ?? ''}`)
      throw new ActionError(`${operation}: provisioning ended ${state}${errors.length ? `: ${errors.join('; ')}` : ''}`)
    }
    return compute
  }

  /**
   * GETs the compute until its provisioning state is no longer Creating / Updating. ARM may answer the PUT
   * (200 or 201) without any operation header while the compute is still provisioning, and then the
   * resource itself is the only thing to watch.
   */
  private async untilProvisioned(name: string, operation: string, timing: OperationTiming, deadline: number): Promise<ComputeResource> {
    for (let interval = FIRST_POLL_MS; ; interval = Math.min(interval * 2, MAX_POLL_MS)) {
      const response = await this.read(name)
      const compute = response.json<ComputeResource | null>()
      if (typeof compute !== 'object' || compute === null) throw response.unexpected('the answer is not a compute')
      const state = compute.properties?.provisioningState
      if (!state || !PROVISIONING.has(state.toLowerCase())) return compute
      timing.onProgress?.(state)
      const wait = Math.max(200, retryAfterMs(response.headers, timing.now()) ?? interval)
      if (timing.now() + wait > deadline) {
        const waited = timing.timeoutMs < 60_000 ? `${Math.round(timing.timeoutMs / 1000)} s` : `${Math.round(timing.timeoutMs / 60_000)} min`
        throw new ActionError(`${operation}: still ${state} after ${waited}; giving up waiting (provisioning goes on in Azure)`, {
          hint: 'Set timeout-minutes to wait longer.'
        })
      }
      await timing.sleep(wait)
    }
  }
}
