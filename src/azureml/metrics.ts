import type { RunMetric } from './types.js'

/** A metric value in the action's `metrics` output. */
export type MetricValue = number | string | boolean | null | MetricValue[] | { [column: string]: MetricValue[] }

/**
 * The run's metrics as the Azure ML SDK's `run.get_metrics()` gives them: a metric logged once → its value;
 * logged several times (or with `log_list`) → the array of values in logging order; a table logged with
 * `log_row` → an object of column → values.
 */
export function metricsFromRunMetrics(runMetrics: readonly RunMetric[]): Record<string, MetricValue> {
  // Logging order is time order. Compared as instants, not as text: .NET trims trailing zeros of the
  // fraction (…37.15Z, …37.153Z, …38Z), so text order is not time order. Array sort is stable: metrics
  // logged at the same instant keep the order the service listed them in.
  const times = new Map(runMetrics.map(m => [m, loggedAt(m.createdUtc)]))
  const sorted = [...runMetrics].sort((a, b) => compareTimes(times.get(a)!, times.get(b)!))
  const values = new Map<string, MetricValue[]>()
  const tables = new Map<string, Record<string, MetricValue[]>>()
  for (const metric of sorted) {
    const name = metric.name
    if (!name) continue
    const cells = metric.cells ?? []
    const columns = metric.schema?.properties?.map(p => p.name ?? p.propertyId ?? '') ?? []
    const isTable = metric.metricType === 'azureml.v1.table' || columns.some(c => c !== name)
    if (isTable) {
      const table = tables.get(name) ?? {}
      for (const cell of cells) {
        for (const [column, v] of Object.entries(cell)) (table[column] ??= []).push(toValue(v))
      }
      tables.set(name, table)
      continue
    }
    const list = values.get(name) ?? []
    for (const cell of cells) list.push(toValue(name in cell ? cell[name] : Object.values(cell)[0]))
    values.set(name, list)
  }
  const result: Record<string, MetricValue> = {}
  for (const [name, list] of values) {
    const listMetric = sorted.some(m => m.name === name && m.metricType === 'azureml.v1.list')
    result[name] = list.length === 1 && !listMetric ? list[0] : list
  }
  for (const [name, table] of tables) result[name] = table
  return result
}

/** An instant as [milliseconds since the epoch, the fraction of a millisecond .NET adds (up to 7 digits)]. */
type Instant = readonly [number, number]

/** When a metric was logged; a missing or unreadable time sorts first (as the service would list it). */
function loggedAt(createdUtc: string | undefined): Instant {
  const text = createdUtc?.trim() ?? ''
  // The field is UTC; without a zone designator Date.parse would read it as local time.
  const ms = Date.parse(/(?:Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : `${text}Z`)
  if (Number.isNaN(ms)) return [-Infinity, 0]
  const digits = /T[\d:]+\.(\d+)/.exec(text)?.[1] ?? ''
  return [ms, digits.length > 3 ? Number(`0.${digits.slice(3)}`) : 0]
}

function compareTimes(a: Instant, b: Instant): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1
  return a[1] - b[1]
}

/**
 * Why an item of the service's metrics list cannot be read (undefined when it can), checked against the
 * contract's RunMetric: an object whose name, type and time are strings, whose cells are a list of objects
 * and whose schema properties are a list of objects.
 */
export function metricShapeProblem(metric: unknown): string | undefined {
  if (!isObject(metric)) return `is ${describe(metric)}, not a metric`
  for (const field of ['name', 'metricType', 'createdUtc'] as const) {
    if (metric[field] != null && typeof metric[field] !== 'string') return `has a '${field}' that is ${describe(metric[field])}, not a string`
  }
  if (metric.cells != null && !isListOfObjects(metric.cells)) return `has 'cells' that are ${describe(metric.cells)}, not a list of objects`
  const schema = metric.schema
  if (schema != null && !(isObject(schema) && (schema.properties == null || isListOfObjects(schema.properties)))) {
    return 'has a \'schema\' without a list of properties'
  }
  return undefined
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isListOfObjects(v: unknown): boolean {
  return Array.isArray(v) && v.every(isObject)
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return `a list of ${v.length}${v.every(isObject) ? '' : ' with non-objects'}`
  if (typeof v === 'object') return 'an object'
  return `${typeof v} ${String(JSON.stringify(v)).slice(0, 40)}`
}

function toValue(v: unknown): MetricValue {
  if (v === null || v === undefined) return null
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v
  return JSON.stringify(v)
}

/** The last number of a metric, for gates and the summary table (a series → its last value). */
export function lastNumber(value: MetricValue | undefined): number | undefined {
  if (typeof value === 'number') return value
  if (Array.isArray(value) && value.length > 0) return lastNumber(value[value.length - 1])
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value)
  return undefined
}
