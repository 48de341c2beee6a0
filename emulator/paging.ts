import { dataPlaneError, serviceError } from './errors.js'
import type { Service } from './http.js'

/** One page of a list and the token of the next one. */
export interface Page<T> {
  items: T[]
  next: string | null
}

/**
 * Cuts a list into pages. The continuation token is opaque to clients (base64url of the offset), so a
 * client that builds its own tokens or stops following them gets caught by the tests.
 * `top` caps the total number of items, as OData's `$top` does.
 */
export function paginate<T>(
  all: readonly T[],
  token: string | null | undefined,
  pageSize: number,
  top?: number,
  service: Service = 'dataPlane'
): Page<T> {
  const offset = token ? decodeToken(token, service) : 0
  const limit = top === undefined ? all.length : Math.min(all.length, top)
  const end = Math.min(limit, offset + pageSize)
  const items = all.slice(offset, end)
  return { items, next: end < limit ? Buffer.from(JSON.stringify({ o: end })).toString('base64url') : null }
}

/** `$top` as a non-negative integer, or undefined; anything else is a 400. */
export function parseTop(raw: string | null): number | undefined {
  if (raw === null || raw === '') return undefined
  if (!/^\d+$/.test(raw)) throw dataPlaneError(400, 'ValidationError', `The value '${raw}' of $top is not a non-negative integer.`, { innerCode: 'BadArgument' })
  return Number(raw)
}

function decodeToken(token: string, service: Service): number {
  try {
    const { o } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown }
    if (typeof o === 'number' && Number.isInteger(o) && o >= 0) return o
  } catch {
    // fall through to the 400
  }
  const code = service === 'dataPlane' ? 'ValidationError' : service === 'modelManagement' ? 'BadRequest' : 'InvalidSkipToken'
  throw serviceError(service, 400, code, 'The continuation token is not valid.')
}
