import type { ActionError } from '../errors.js'
import type { MetricValue } from '../azureml/metrics.js'

/** What `train` and `wait-run` found out about a run; main.ts turns it into outputs and the job summary. */
export interface RunOutcome {
  runId: string
  experiment: string
  runUrl: string
  /** Final status, or the last one seen when the action did not wait to the end. */
  status: string
  /** false with `wait: false`. */
  waited: boolean
  timedOut: boolean
  /** The workflow was cancelled while waiting. */
  aborted: boolean
  /** The action asked Azure ML to cancel the run (workflow cancelled, or timeout-minutes with cancel-on-timeout). */
  cancelRequested: boolean
  startTimeUtc?: string
  endTimeUtc?: string
  metrics?: Record<string, MetricValue>
  /** The run's error message, for failed runs. */
  error?: string
  /** The last lines of the driver log. */
  logTail: string[]
  /** The run's artifact container (for registering a model from its outputs). */
  dataContainerId?: string
  /** What happened to `model-name`, when it was given. */
  registration?: RegistrationOutcome
}

/** The model registered after a run, or why it was not. */
export interface RegistrationOutcome {
  registered: boolean
  model?: { id: string; name: string; version: string }
  /** One line per register-if condition, or why registration was skipped. */
  reasons: string[]
  /** Registration was attempted and failed (the step fails with this). */
  error?: ActionError
}
