import { collectPages, pageItems, type Page } from '../http/paging.js'
import type { DataPlane } from './data-plane.js'

/** modelmanagement/v1.0 Model. */
export interface Model {
  id?: string
  name?: string
  version?: number
  url?: string
  description?: string
  framework?: string
  runId?: string
  experimentName?: string
  createdTime?: string
  kvTags?: Record<string, string>
  properties?: Record<string, string>
}

/** modelmanagement/v1.0 Asset. */
export interface Asset {
  id?: string
  name?: string
}

/** What to register. */
export interface ModelRegistration {
  name: string
  runId: string
  experimentName: string
  /** Path of the model file or folder among the run's artifacts, e.g. outputs/model.pkl. */
  path: string
  /** The run's artifact container (dcid.{runId}). */
  dataContainerId: string
  description?: string
  framework?: string
  tags: Record<string, string>
  properties: Record<string, string>
}

/** Model management: assets and models of a workspace. */
export class ModelClient {
  constructor(private readonly dataPlane: DataPlane) {}

  private get session() {
    return this.dataPlane.session
  }

  /**
   * Registers a model from a run's outputs the way the Azure ML SDK does: an asset pointing at the run's
   * artifact prefix, then a model whose url is `aml://asset/{assetId}`. The service numbers the versions.
   */
  async register(model: ModelRegistration): Promise<Model> {
    const operation = `registering model '${model.name}' from run '${model.runId}'`
    const assetResponse = await this.session.pipeline.send({
        method: 'POST',
        url: this.dataPlane.url('modelmanagement/v1.0', '/assets'),
        operation: `${operation} (creating its asset)`,
        auth: this.session.auth,
        json: {
          name: model.name,
          artifacts: [{ prefix: `ExperimentRun/${model.dataContainerId}/${model.path}` }],
          kvTags: {},
          properties: {},
          runid: model.runId,
          meta: { experimentName: model.experimentName }
        }
      })
    const asset = assetResponse.json<Asset>()
    if (typeof asset?.id !== 'string' || !asset.id) throw assetResponse.unexpected('the asset has no id')
    const response = await this.session.pipeline.send({
      method: 'POST',
      url: this.dataPlane.url('modelmanagement/v1.0', '/models'),
      operation,
      auth: this.session.auth,
      json: {
        name: model.name,
        url: `aml://asset/${asset.id}`,
        mimeType: 'application/octet-stream',
        unpack: false,
        runId: model.runId,
        experimentName: model.experimentName,
        description: model.description,
        framework: model.framework,
        kvTags: model.tags,
        properties: model.properties
      }
    })
    const registered = response.json<Model>()
    if (typeof registered?.id !== 'string' || registered.version === undefined) {
      throw response.unexpected('the answer has no model id and version')
    }
    return registered
  }

  /**
   * The latest registered version of a model, or undefined when it has none. The service's `name` filter is
   * not relied on to be exact (a broader match must not hide the champion and let a gate pass): pages, newest
   * first, are read until a model of exactly this name turns up.
   */
  async latest(name: string): Promise<Model | undefined> {
    const operation = `reading the latest version of model '${name}'`
    let latest: Model | undefined
    await collectPages(operation, async nextLink => {
      const page = await this.page(operation, nextLink, name)
      latest = page.items.find(m => m.name === name)
      return { items: [], next: latest ? undefined : page.next }
    })
    return latest
  }

  /** Registered models (optionally of one name), all pages. */
  async list(name?: string): Promise<Model[]> {
    const operation = name ? `listing the versions of model '${name}'` : 'listing the registered models'
    return collectPages(operation, nextLink => this.page(operation, nextLink, name))
  }

  /** One page of models, newest first (the first page, or the one `nextLink` names). */
  private async page(operation: string, nextLink: string | undefined, name: string | undefined): Promise<Page<Model>> {
    const response = await this.session.pipeline.send({
      method: 'GET',
      url: nextLink ?? this.dataPlane.url('modelmanagement/v1.0', '/models', { name, orderBy: 'CreatedAtDesc' }),
      operation,
      auth: this.session.auth
    })
    const body = response.json<{ nextLink?: string }>()
    return { items: pageItems<Model>(response), next: body.nextLink ?? undefined }
  }

  /** DELETE a model version; false when it did not exist (204). */
  async delete(id: string): Promise<boolean> {
    const response = await this.session.pipeline.send({
      method: 'DELETE',
      url: this.dataPlane.url('modelmanagement/v1.0', `/models/${id.split(':').map(encodeURIComponent).join(':')}`),
      operation: `deleting model '${id}'`,
      auth: this.session.auth
    })
    return response.status !== 204
  }
}
