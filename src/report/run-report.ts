import { lastNumber, type MetricValue } from '../azureml/metrics.js'
import { Outputs, type OutputName } from '../constants.js'
import { ActionError } from '../errors.js'
import { UNKNOWN_COMPUTE, UNKNOWN_COMPUTE_HINT } from '../http/hints.js'
import type { RunOutcome } from '../operations/run-outcome.js'
import { scrubSecrets } from './log-text.js'
import { cell, codeBlock, duration, inlineCode, table } from './markdown.js'

/** The outputs of a run: run-id, run-status, run-url and (when waited for) metrics. */
export function runOutputs(outcome: RunOutcome): Partial<Record<OutputName, string>> {
  const outputs: Partial<Record<OutputName, string>> = {
    [Outputs.runId]: outcome.runId,
    [Outputs.runStatus]: outcome.status,
    [Outputs.runUrl]: outcome.runUrl
  }
  if (outcome.metrics) outputs[Outputs.metrics] = JSON.stringify(outcome.metrics)
  const registration = outcome.registration
  if (registration) {
    outputs[Outputs.modelRegistered] = String(registration.registered)
    if (registration.model) {
      outputs[Outputs.modelId] = registration.model.id
      outputs[Outputs.modelName] = registration.model.name
      outputs[Outputs.modelVersion] = registration.model.version
    }
  }
  return outputs
}

/** Why the step fails, or undefined when the run completed (or was not waited for). */
export function runFailure(outcome: RunOutcome): ActionError | undefined {
  if (outcome.registration?.error) return outcome.registration.error
  if (!outcome.waited || outcome.status === 'Completed') return undefined
  const logTail = outcome.logTail.map(scrubSecrets)
  const tail = logTail.length ? `\nLast lines of the driver log:\n${logTail.join('\n')}` : ''
  if (outcome.aborted) return new ActionError(`The workflow was cancelled; run ${outcome.runId} was asked to cancel (${outcome.runUrl}).`)
  if (outcome.timedOut) {
    if (outcome.status === 'Canceled' || outcome.status === 'CancelRequested') {
      return new ActionError(`Run ${outcome.runId} did not finish within timeout-minutes and was cancelled (status ${outcome.status}) (${outcome.runUrl}).${tail}`)
    }
    if (outcome.status !== 'Failed' && outcome.cancelRequested) {
      return new ActionError(`Run ${outcome.runId} did not finish within timeout-minutes; it was asked to cancel, but is still ${outcome.status} (${outcome.runUrl}).`, {
        hint: `Azure ML has not stopped it yet: check it in Azure ML studio, or ask again with operation: cancel-run and run-id: ${outcome.runId}.`
      })
    }
    if (outcome.status !== 'Failed') {
      return new ActionError(`Run ${outcome.runId} did not finish within timeout-minutes; it is still ${outcome.status} (${outcome.runUrl}).`, {
        hint: `It goes on in Azure ML (cancel-on-timeout: false). Resume waiting with operation: wait-run and run-id: ${outcome.runId}.`
      })
    }
  }
  const error = outcome.error === undefined ? undefined : scrubSecrets(outcome.error)
  const why = error ? `: ${error}` : ''
  return new ActionError(`Run ${outcome.runId} ended ${outcome.status}${why} (${outcome.runUrl})${tail}`, {
    // Not for the script's own exceptions ("User program failed with …"), whatever they say.
    hint: error && !/^User program failed/i.test(error) && UNKNOWN_COMPUTE.test(error) ? UNKNOWN_COMPUTE_HINT : undefined
  })
}

/** The job summary of a run: status, duration, link, metrics. */
export function runSummary(outcome: RunOutcome): string {
  const started = outcome.startTimeUtc ? Date.parse(outcome.startTimeUtc) : NaN
  const ended = outcome.endTimeUtc ? Date.parse(outcome.endTimeUtc) : NaN
  const icon = { Completed: '✅', Failed: '❌', Canceled: '⏹️' }[outcome.status] ?? '⏳'
  const rows: string[][] = [
    ['Status', `${icon} ${outcome.status}${outcome.timedOut ? ' (timeout-minutes passed)' : ''}`],
    ['Experiment', outcome.experiment],
    ['Run id', outcome.runId]
  ]
  if (Number.isFinite(started) && Number.isFinite(ended)) rows.push(['Duration', duration(ended - started)])
  const parts = [`### Azure ML run ${escapeHeading(outcome.runId)}`, table(['', ''], rows), `[Open the run in Azure ML studio](${outcome.runUrl})`]
  const metrics = Object.entries(outcome.metrics ?? {})
  if (metrics.length) {
    parts.push('#### Metrics', table(['Metric', 'Value'], metrics.map(([name, value]) => [name, formatMetric(value)])))
  } else if (outcome.waited) {
    parts.push('_The run logged no metrics._')
  }
  const registration = outcome.registration
  if (registration?.model) {
    parts.push(`#### Model\n\nRegistered **${cell(registration.model.id)}**.${registration.reasons.length ? `\n\n${registration.reasons.map(r => `- ${cell(r)}`).join('\n')}` : ''}`)
  } else if (registration) {
    parts.push(`#### Model\n\nNot registered:\n\n${registration.reasons.map(r => `- ${cell(r)}`).join('\n')}`)
  }
  if (outcome.status === 'Failed' || outcome.status === 'Canceled') {
    // Text from the run: shown as typed (a code span), with token- and key-shaped values hidden.
    if (outcome.error) parts.push(`**Error:** ${inlineCode(scrubSecrets(outcome.error))}`)
    if (outcome.logTail.length) parts.push('<details><summary>Last lines of the driver log</summary>\n', codeBlock(outcome.logTail.map(scrubSecrets)), '\n</details>')
  }
  return parts.join('\n\n') + '\n'
}

function formatMetric(value: MetricValue): string {
  if (Array.isArray(value)) {
    const numbers = value.map(v => lastNumber(v)).filter((n): n is number => n !== undefined)
    const last = value[value.length - 1]
    if (numbers.length === value.length && numbers.length > 1) {
      return `${format(last)} (last of ${value.length}; min ${format(Math.min(...numbers))}, max ${format(Math.max(...numbers))})`
    }
    return value.map(format).join(', ')
  }
  if (value && typeof value === 'object') {
    return Object.entries(value).map(([column, values]) => `${column}: ${values.map(format).join(', ')}`).join('; ')
  }
  return format(value)
}

function format(value: MetricValue): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)))
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function escapeHeading(text: string): string {
  return text.replace(/[<>]/g, c => (c === '<' ? '&lt;' : '&gt;')).replace(/[\r\n]+/g, ' ')
}
