import type { OutputName } from '../constants.js'
import type { ActionError } from '../errors.js'

/** What an operation leaves for the edge to publish. */
export interface OperationResult {
  outputs: Partial<Record<OutputName, string>>
  /** Markdown for the job summary. */
  summary?: string
  /** Set when the step must fail although the operation ran (a failed run, a failed job). */
  failure?: ActionError
  /** A run's results, also worth a pull request comment (keyed by experiment, so one comment per experiment). */
  comment?: { experiment: string; markdown: string }
}
