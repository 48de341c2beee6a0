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
  startTimeUtc?: string
  endTimeUtc?: string
  metrics?: Record<string, MetricValue>
  /** The run's error message, for failed runs. */
  error?: string
  /** The last lines of the driver log. */
  logTail: string[]
}
