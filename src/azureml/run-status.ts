/**
 * Azure ML's run status vocabulary. `status` is a free string in the swagger; these are the values the
 * service documents. Only Completed, Failed and Canceled end a run: NotResponding (a missed heartbeat) can
 * move back to Running, and CancelRequested still has to reach Canceled.
 */
export const RUN_STATUSES = [
  'NotStarted',
  'Starting',
  'Provisioning',
  'Preparing',
  'Queued',
  'Running',
  'Finalizing',
  'CancelRequested',
  'NotResponding',
  'Paused',
  'Unknown',
  'Completed',
  'Failed',
  'Canceled'
] as const

const TERMINAL = new Set(['Completed', 'Failed', 'Canceled'])

/** Whether the run has ended. Unknown strings are treated as not final, so waiting goes on. */
export function isTerminalStatus(status: string | undefined): boolean {
  return status !== undefined && TERMINAL.has(status)
}

/** Whether the script may be producing output (worth reading the driver log). */
export function isActiveStatus(status: string | undefined): boolean {
  return status === 'Running' || status === 'Finalizing' || status === 'NotResponding' || status === 'CancelRequested'
}

/** A short explanation of the statuses users ask about, for the log. */
export function describeStatus(status: string): string {
  switch (status) {
    case 'NotResponding':
      return 'NotResponding (the run missed a heartbeat; Azure ML keeps it and it usually comes back)'
    case 'CancelRequested':
      return 'CancelRequested (waiting for the run to stop)'
    case 'Queued':
      return 'Queued (waiting for compute nodes)'
    case 'Preparing':
      return 'Preparing (building or pulling the environment image)'
    case 'Finalizing':
      return 'Finalizing (uploading outputs and logs)'
    default:
      return status
  }
}
