import { randomUUID } from 'node:crypto'

/** What an injected fault does to a matching request. */
export type FaultKind = 'status' | 'reset' | 'delay' | 'hang' | 'html' | 'truncated'

/** A fault as tests and the control API describe it. */
export interface FaultSpec {
  /** HTTP method to match (any when absent). */
  method?: string
  /** Regular expression tested against the request path (without the query). */
  path: string
  /** How many matching requests it applies to. */
  times: number
  kind: FaultKind
  /** For 'status': the status to answer (default 503). */
  status?: number
  /** For 'status': a Retry-After header in seconds. */
  retryAfterSeconds?: number
  /** For 'status': `retry-after-ms` and `x-ms-retry-after-ms` headers. */
  retryAfterMs?: number
  /** For 'delay': how long to wait before handling the request normally. */
  delayMs?: number
  /** For 'status' and 'html': a body to send instead of the default one. */
  body?: string
  /**
   * For 'reset' and 'hang': handle the request first (its effects happen) and only then drop or withhold
   * the answer, as when a response is lost on the way back. Default false: the request never arrives.
   */
  afterHandling?: boolean
}

/** A registered fault and how many times it has still to fire. */
export interface Fault extends FaultSpec {
  id: string
  remaining: number
}

const KINDS: readonly FaultKind[] = ['status', 'reset', 'delay', 'hang', 'html', 'truncated']

/** The faults armed on an emulator; the server asks it about every Azure request. */
export class FaultController {
  private faults: Array<Fault & { regex: RegExp }> = []

  /** Arms a fault; throws with a readable message when the spec is invalid. */
  add(spec: FaultSpec): string {
    const checked = checkSpec(spec)
    const id = randomUUID()
    this.faults.push({ ...checked, id, remaining: checked.times, regex: new RegExp(checked.path) })
    return id
  }

  /** Disarms every fault. */
  clear(): void {
    this.faults = []
  }

  /** Disarms one fault; false when there is no such fault. */
  remove(id: string): boolean {
    const before = this.faults.length
    this.faults = this.faults.filter(f => f.id !== id)
    return this.faults.length !== before
  }

  /** The armed faults with their remaining counts. */
  list(): Fault[] {
    return this.faults.map(({ regex: _regex, ...f }) => ({ ...f }))
  }

  /** The fault for this request, if one matches; using it counts down its `times`. */
  take(method: string, path: string): Fault | undefined {
    const fault = this.faults.find(f => f.remaining > 0 && (!f.method || f.method.toUpperCase() === method) && f.regex.test(path))
    if (!fault) return undefined
    fault.remaining -= 1
    const { regex: _regex, ...copy } = fault
    this.faults = this.faults.filter(f => f.remaining > 0)
    return copy
  }
}

function checkSpec(raw: unknown): FaultSpec {
  if (typeof raw !== 'object' || raw === null) throw new Error('A fault must be a JSON object.')
  const spec = raw as Record<string, unknown>
  if (typeof spec.path !== 'string' || spec.path === '') throw new Error("A fault needs 'path', a regular expression matched against the request path.")
  try {
    new RegExp(spec.path)
  } catch (err) {
    throw new Error(`The fault path '${spec.path}' is not a valid regular expression: ${(err as Error).message}`)
  }
  if (!KINDS.includes(spec.kind as FaultKind)) throw new Error(`A fault needs 'kind', one of ${KINDS.join(', ')}.`)
  if (typeof spec.times !== 'number' || !Number.isInteger(spec.times) || spec.times < 1) throw new Error("A fault needs 'times', a positive integer.")
  if (spec.method !== undefined && typeof spec.method !== 'string') throw new Error("'method' must be a string.")
  for (const name of ['status', 'retryAfterSeconds', 'retryAfterMs', 'delayMs'] as const) {
    const v = spec[name]
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw new Error(`'${name}' must be a non-negative number.`)
  }
  if (spec.status !== undefined && (!Number.isInteger(spec.status) || (spec.status as number) < 100 || (spec.status as number) > 599)) {
    throw new Error("'status' must be an HTTP status code (100-599).")
  }
  if (spec.kind === 'delay' && spec.delayMs === undefined) throw new Error("A 'delay' fault needs 'delayMs'.")
  if (spec.body !== undefined && typeof spec.body !== 'string') throw new Error("'body' must be a string.")
  if (spec.afterHandling !== undefined && typeof spec.afterHandling !== 'boolean') throw new Error("'afterHandling' must be a boolean.")
  return {
    method: spec.method as string | undefined,
    path: spec.path,
    times: spec.times,
    kind: spec.kind as FaultKind,
    status: spec.status as number | undefined,
    retryAfterSeconds: spec.retryAfterSeconds as number | undefined,
    retryAfterMs: spec.retryAfterMs as number | undefined,
    delayMs: spec.delayMs as number | undefined,
    body: spec.body as string | undefined,
    afterHandling: spec.afterHandling as boolean | undefined
  }
}

/** Retry-After (seconds) of a 429 given on the command line without one: ARM always sends one on 429. */
export const DEFAULT_THROTTLE_RETRY_AFTER_SECONDS = 1

/**
 * Parses the CLI form `'METHOD PATH_REGEX KIND[:ARG][:OPTION…] TIMES'` (`*` for any method), e.g.
 * `'GET /runs/ status:503 2'`, `'GET /workspaces/ status:429:retry-after=3 1'`,
 * `'POST /startrun$ reset:after-handling 1'`. ARG is the status of `status` and `html`, the milliseconds
 * of `delay`. OPTIONs: `retry-after=SECONDS`, `retry-after-ms=MS`, `after-handling`. A 429 without a
 * retry option gets `Retry-After: 1`, as ARM's throttling always carries one (reference §10).
 */
export function parseFaultFlag(text: string): FaultSpec {
  const parts = text.trim().split(/\s+/)
  const usage = `--fault '${text}': expected 'METHOD PATH_REGEX KIND[:STATUS][:retry-after=SECONDS|:retry-after-ms=MS|:after-handling] TIMES'`
  if (parts.length !== 4) throw new Error(usage)
  const [method, pathRegex, kindSpec, times] = parts
  const [kind, ...rest] = kindSpec.split(':')
  const spec: FaultSpec = { path: pathRegex, kind: kind as FaultKind, times: Number(times) }
  if (method !== '*') spec.method = method.toUpperCase()
  if (rest.length && /^\d+$/.test(rest[0])) {
    const arg = Number(rest.shift())
    if (kind === 'delay') spec.delayMs = arg
    else spec.status = arg
  }
  for (const option of rest) {
    const [name, value, ...extra] = option.split('=')
    const number = (): number => {
      if (value === undefined || extra.length || !/^\d+(\.\d+)?$/.test(value)) throw new Error(`${usage}; '${option}' needs a non-negative number, e.g. ${name}=3`)
      return Number(value)
    }
    if (name === 'retry-after') spec.retryAfterSeconds = number()
    else if (name === 'retry-after-ms') spec.retryAfterMs = number()
    else if (name === 'after-handling' && value === undefined) spec.afterHandling = true
    else throw new Error(`${usage}; unknown option '${option}'`)
  }
  const checked = checkSpec(spec)
  if (checked.kind === 'status' && checked.status === 429 && checked.retryAfterSeconds === undefined && checked.retryAfterMs === undefined) {
    checked.retryAfterSeconds = DEFAULT_THROTTLE_RETRY_AFTER_SECONDS
  }
  return checked
}
