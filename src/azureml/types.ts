/**
 * REST shapes of the Azure ML v1 surface the action reads and writes, as in the OpenAPI files of
 * azure-rest-api-specs (ARM 2019-11-01; data plane 2019-09-30). Only the fields the action uses are typed;
 * everything is optional on the way in because answers are checked where they are used.
 */

/** ARM Workspace (Microsoft.MachineLearningServices/workspaces). */
export interface Workspace {
  id?: string
  name?: string
  location?: string
  properties?: {
    workspaceId?: string
    discoveryUrl?: string
    provisioningState?: string
    friendlyName?: string
  }
}

/** The discovery document: service name → base URL. */
export interface DiscoveryDocument {
  api?: string
  history?: string
  experimentation?: string
  modelmanagement?: string
  [service: string]: string | undefined
}

/** The data-plane ErrorResponse. */
export interface ErrorResponse {
  error?: { code?: string; message?: string; innerError?: unknown; details?: { code?: string; message?: string }[] }
}

/** history/v1.0 Experiment. */
export interface Experiment {
  experimentId?: string
  name?: string
  description?: string
  createdUtc?: string
  latestCreatedRunId?: string
  latestCreatedRunCreatedUtc?: string
  tags?: Record<string, string>
}

/** history/v1.0 Run. */
export interface Run {
  runId?: string
  runNumber?: number
  experimentId?: string
  /** The run's own token: a credential, never to be printed or exported. */
  token?: string
  status?: string
  createdUtc?: string
  startTimeUtc?: string
  endTimeUtc?: string
  error?: ErrorResponse
  warnings?: { source?: string; message?: string }[]
  target?: string
  scriptName?: string
  dataContainerId?: string
  tags?: Record<string, string>
  properties?: Record<string, string>
  runDefinition?: unknown
}

/** history/v1.0 RunDetails. */
export interface RunDetails extends Run {
  logFiles?: Record<string, string>
}

/** history/v1.0 RunMetric: one logged metric (a scalar logged 3 times is 3 RunMetrics). */
export interface RunMetric {
  runId?: string
  metricId?: string
  metricType?: string
  createdUtc?: string
  name?: string
  numCells?: number
  cells?: Record<string, unknown>[]
  schema?: { numProperties?: number; properties?: { propertyId?: string; name?: string; type?: string }[] }
}

/** The paginated lists of history and artifacts. */
export interface PaginatedList<T> {
  value?: T[]
  continuationToken?: string | null
  nextLink?: string | null
}

/** artifact/v2.0 Artifact. */
export interface Artifact {
  artifactId?: string
  origin?: string
  container?: string
  path?: string
  createdTime?: string
}

/** artifact/v2.0 ArtifactContentInformation: where to download an artifact (a blob URL with a SAS). */
export interface ArtifactContentInformation {
  contentUri?: string
  origin?: string
  container?: string
  path?: string
}

/** execution/v1.0 StartRunResult. */
export interface StartRunResult {
  runId?: string
}
