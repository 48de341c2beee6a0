import type { RunMetric } from './types.js'

/** A metric value in the action's `metrics` output. */
export type MetricValue = number | string | boolean | null | MetricValue[] | { [column: string]: MetricValue[] }

/**
 * The run's metrics as the Azure ML SDK's `run.get_metrics()` gives them: a metric logged once → its value;
 * logged several times (or with `log_list`) → the array of values in logging order; a table logged with
 * `log_row` → an object of column → values.
 */
export function metricsFromRunMetrics(runMetrics: readonly RunMetric[]): Record<string, MetricValue> {
  const sorted = [...runMetrics].sort((a, b) => (a.createdUtc ?? '').localeCompare(b.createdUtc ?? ''))
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
