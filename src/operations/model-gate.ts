import { lastNumber, type MetricValue } from '../azureml/metrics.js'
import type { Model } from '../azureml/models.js'
import { InputError } from '../errors.js'

export type Comparison = '>' | '>=' | '<' | '<=' | '=='

/** One line of `register-if`: `<metric> <op> <number>` or `<metric> <op> champion`. */
export interface Condition {
  metric: string
  op: Comparison
  target: number | 'champion'
  text: string
}

/** Property under which a model keeps a metric of the run it came from (so later runs can compare). */
export function metricProperty(metric: string): string {
  return `metric.${metric}`
}

// The metric is anything without an operator character, so `accuracy >> 0.9` or `accuracy => 0.9` is an
// error instead of a condition on a metric named "accuracy >" or "accuracy =".
const LINE = /^([^<>=]*[^<>=\s])\s*(>=|<=|==|>|<)\s*(champion|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$/

/** Parses `register-if`; a line that is not a condition is an InputError that shows the grammar. */
export function parseConditions(text: string): Condition[] {
  const conditions: Condition[] = []
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (!line) continue
    const match = LINE.exec(line)
    if (!match) {
      throw new InputError('register-if', `'${line}' is not a condition; write one per line as <metric> <op> <number> or <metric> <op> champion, with op one of >, >=, <, <=, == (e.g. "accuracy >= 0.9", "loss < champion")`)
    }
    conditions.push({ metric: match[1].trim(), op: match[2] as Comparison, target: match[3] === 'champion' ? 'champion' : Number(match[3]), text: line })
  }
  return conditions
}

export interface GateResult {
  holds: boolean
  /** One line per condition, saying what was compared and whether it held. */
  reasons: string[]
  /** What the user should know although the gate decided: a champion condition that could not be compared. */
  warnings: string[]
}

/**
 * Evaluates every condition (all must hold) against the run's metrics — a series counts by its last value —
 * and, for `champion`, the same metric kept on the latest registered version. No version yet: a champion
 * condition holds. A metric the run did not log makes its condition fail (a typo must not register silently).
 *
 * A champion without the metric (registered outside this action, so without `metric.*` properties) cannot be
 * compared with. Its condition holds, with a warning: failing it instead would block every later
 * registration for good, while registering records the metric, so from the next run on the gate compares.
 */
export function evaluateGate(conditions: readonly Condition[], metrics: Record<string, MetricValue>, champion: Model | undefined): GateResult {
  const reasons: string[] = []
  const warnings: string[] = []
  let holds = true
  for (const condition of conditions) {
    const value = lastNumber(metrics[condition.metric])
    if (value === undefined) {
      holds = false
      const logged = Object.keys(metrics)
      reasons.push(`${condition.text}: the run logged no numeric metric '${condition.metric}' (it logged: ${logged.length ? logged.join(', ') : 'nothing'}) — does not hold`)
      continue
    }
    let target: number
    let targetText: string
    if (condition.target === 'champion') {
      if (!champion) {
        reasons.push(`${condition.text}: no version registered yet, so there is no champion — holds`)
        continue
      }
      const stored = champion.properties?.[metricProperty(condition.metric)]
      const number = stored === undefined ? NaN : Number(stored)
      if (!Number.isFinite(number)) {
        reasons.push(`${condition.text}: the champion (version ${champion.version}) has no recorded '${condition.metric}' metric — treated as holding`)
        warnings.push(
          `register-if: the champion, version ${champion.version} of model '${champion.name}', has no recorded '${condition.metric}' metric (no property ${metricProperty(condition.metric)}: it was registered without its run's metrics, e.g. outside this action), so '${condition.text}' cannot be compared and is treated as holding. The version registered now records its metrics; later runs compare against them.`
        )
        continue
      }
      target = number
      targetText = `champion ${number} (version ${champion.version})`
    } else {
      target = condition.target
      targetText = String(target)
    }
    const ok = compare(value, condition.op, target)
    if (!ok) holds = false
    reasons.push(`${condition.metric} ${value} ${condition.op} ${targetText}: ${ok ? 'holds' : 'does not hold'}`)
  }
  return { holds, reasons, warnings }
}

function compare(a: number, op: Comparison, b: number): boolean {
  switch (op) {
    case '>':
      return a > b
    case '>=':
      return a >= b
    case '<':
      return a < b
    case '<=':
      return a <= b
    case '==':
      return a === b
  }
}
