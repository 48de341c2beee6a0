import { ApiVersions } from '../constants.js'
import { ActionError } from '../errors.js'
import { waitForLongRunning, type OperationTiming } from '../http/long-running.js'
import { collectPages, pageItems } from '../http/paging.js'
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
    const response = await this.session.pipeline.send({
      method: 'GET',
      url: `${this.url(`/${encodeURIComponent(name)}`)}?api-version=${ApiVersions.machineLearningServices}`,
      operation: `reading compute '${name}'`,
      auth: this.session.auth
    })
    return response.json<ComputeResource>()
  }

  /**
   * PUT an AmlCompute cluster (create, or update its scale settings) and wait until it is provisioned.
   * A provisioning failure becomes an error with the operation's (or the compute's) error.
   */
  async createOrUpdate(spec: AmlComputeSpec, timing: OperationTiming): Promise<ComputeResource> {
    const operation = `creating compute '${spec.name}'`
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
    const compute = await this.get(spec.name)
    const state = compute.properties?.provisioningState
    if (state && state !== 'Succeeded') {
      const errors = (compute.properties?.provisioningErrors ?? []).map(e => `${e.error?.code ?? 'Error'}: ${e.error?.message ?? ''}`)
      throw new ActionError(`${operation}: provisioning ended ${state}${errors.length ? `: ${errors.join('; ')}` : ''}`)
    }
    return compute
  }
}
