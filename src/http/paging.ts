import { ActionError } from '../errors.js'
import type { HttpResponse } from './pipeline.js'

/** One page of a list: its items and how to ask for the next (a nextLink URL or a continuation token). */
export interface Page<T> {
  items: T[]
  next?: string
}

const MAX_PAGES = 1000

/**
 * Every item of a paged list. Azure pages in two ways — an absolute `nextLink` (ARM, model management) or a
 * `continuationToken` (run history, artifacts) — and `fetchPage` hides which: it gets undefined first, then
 * whatever the previous page gave as `next`.
 */
export async function collectPages<T>(operation: string, fetchPage: (next: string | undefined) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = []
  let next: string | undefined
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = await fetchPage(next)
    items.push(...result.items)
    if (!result.next || result.next === next) return items
    next = result.next
  }
  throw new ActionError(`${operation}: more than ${MAX_PAGES} pages; giving up`)
}

/** The `value` array of a page, or a clear error (status, request id) when the answer is not a list. */
export function pageItems<T>(response: HttpResponse): T[] {
  const value = response.json<{ value?: unknown } | null>()?.value
  if (!Array.isArray(value)) throw response.unexpected("the answer has no 'value' list")
  return value as T[]
}
