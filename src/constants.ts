/** Names shared by action.yml, the outputs, the saved state and the REST clients. */

/** Output names, exactly as in action.yml. */
export const Outputs = {
  runId: 'run-id',
  runStatus: 'run-status',
  runUrl: 'run-url',
  metrics: 'metrics',
  modelId: 'model-id',
  modelName: 'model-name',
  modelVersion: 'model-version',
  modelRegistered: 'model-registered',
  result: 'result',
  jobId: 'job-id'
} as const
export type OutputName = (typeof Outputs)[keyof typeof Outputs]

/** Keys saved with core.saveState by the main step and read by the post step. */
export const StateKeys = {
  runToCancel: 'azureml-run-to-cancel',
  batchJobToDelete: 'azureml-batch-job-to-delete'
} as const

export const ApiVersions = {
  /** Microsoft.MachineLearningServices on ARM (the seed's version). */
  machineLearningServices: '2019-11-01',
  /** Microsoft.Resources (resource groups). */
  resources: '2019-10-01',
  /** What the Azure ML REST how-to appends to data-plane calls; the data-plane swaggers define none. */
  dataPlane: '2019-11-01'
} as const

/** The run's driver log, the one the Azure ML SDK streams too. */
export const DRIVER_LOG_PATH = 'azureml-logs/70_driver_log.txt'

/** Azure ML run statuses that end a run. */
export const TERMINAL_RUN_STATUSES = ['Completed', 'Failed', 'Canceled'] as const
