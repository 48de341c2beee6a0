import { ApiVersions } from '../constants.js'
import { workspacePath, type AzureSession, type WorkspaceRef } from './session.js'

/** The Azure ML regional services, each under its own path prefix on the discovery `api` host. */
export type DataPlaneService = 'history/v1.0' | 'execution/v1.0' | 'artifact/v2.0' | 'modelmanagement/v1.0'

/** Builds data-plane URLs of one workspace: `{api}/{service}/subscriptions/…/workspaces/{ws}{path}?api-version=…`. */
export class DataPlane {
  readonly baseUrl: string
  constructor(
    readonly session: AzureSession,
    apiUrl: string,
    readonly ref: WorkspaceRef
  ) {
    this.baseUrl = apiUrl.replace(/\/+$/, '')
  }

  url(service: DataPlaneService, path: string, query: Record<string, string | number | undefined> = {}): string {
    const url = new URL(`${this.baseUrl}/${service}${workspacePath(this.ref)}${path}`)
    url.searchParams.set('api-version', ApiVersions.dataPlane)
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value))
    }
    return url.toString()
  }
}
