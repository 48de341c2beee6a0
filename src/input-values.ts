import { readFileSync, realpathSync, statSync } from 'node:fs'
import path from 'node:path'
import { isLoopbackHost } from './clouds.js'
import { InputError } from './errors.js'
import { isWithin } from './paths.js'

/**
 * Strict parsers of single input values. Each takes the input's name so that its error names it and says
 * what is allowed; none guesses.
 */

/** Reads one input: the trimmed value, '' when not given (what core.getInput returns). */
export type InputReader = (name: string) => string

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function required(read: InputReader, name: string, what: string): string {
  const value = read(name)
  if (!value) throw new InputError(name, `required for ${what}`)
  return value
}

/** One of a fixed set of values (matched case-insensitively, returned as spelled in the set). */
export function oneOf<T extends string>(read: InputReader, name: string, allowed: readonly T[], fallback: T): T {
  const value = read(name)
  if (!value) return fallback
  const match = allowed.find(a => a.toLowerCase() === value.toLowerCase())
  if (!match) throw new InputError(name, `'${value}' is not allowed; use one of: ${allowed.join(', ')}`)
  return match
}

/** YAML 1.2 core-schema booleans, as core.getBooleanInput accepts them. */
export function boolean(read: InputReader, name: string, fallback: boolean): boolean {
  const value = read(name)
  if (!value) return fallback
  if (['true', 'True', 'TRUE'].includes(value)) return true
  if (['false', 'False', 'FALSE'].includes(value)) return false
  throw new InputError(name, `'${value}' is not a boolean; use true or false`)
}

/** A positive number of minutes (fractions allowed), at most 30 days. */
export function minutes(read: InputReader, name: string): number | undefined {
  const value = read(name)
  if (!value) return undefined
  const n = Number(value)
  if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n) || n <= 0 || n > 43_200) {
    throw new InputError(name, `'${value}' is not a positive number of minutes (up to 43200)`)
  }
  return n
}

/** A whole number within bounds. */
export function integer(read: InputReader, name: string, fallback: number, min: number, max: number): number {
  const value = read(name)
  if (!value) return fallback
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < min || n > max) throw new InputError(name, `'${value}' is not a whole number from ${min} to ${max}`)
  return n
}

/** Text matching a pattern, with the rule spelled out for the error. */
export function matching(name: string, value: string, pattern: RegExp, rule: string): string {
  if (!pattern.test(value)) throw new InputError(name, `'${value}' is not valid: ${rule}`)
  return value
}

/** Non-empty lines, trimmed. */
export function lines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map(l => l.trim())
    .filter(l => l !== '')
}

/** `key=value` per line. */
export function keyValueLines(read: InputReader, name: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of lines(read(name))) {
    const eq = line.indexOf('=')
    const key = eq > 0 ? line.slice(0, eq).trim() : ''
    if (!key) throw new InputError(name, `'${line}' is not key=value (one pair per line)`)
    out[key] = line.slice(eq + 1).trim()
  }
  return out
}

/**
 * A URL the action may call: https, or http only to loopback (the local Azure ML service).
 * `bare` also refuses query, fragment and user info (endpoints that paths are appended to).
 */
export function serviceUrl(name: string, value: string, example: string, bare = false): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InputError(name, `'${value}' is not a URL (expected e.g. ${example})`)
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new InputError(name, `'${value}' must use https:// (plain http:// is allowed only for loopback hosts such as the local Azure ML service)`)
  }
  if (url.username || url.password) throw new InputError(name, 'must not carry user name or password; use the key inputs')
  if (bare && (url.search || url.hash)) throw new InputError(name, `'${value}' must be a bare URL without query or fragment`)
  return url.toString()
}

/** A JSON value (object or array) given inline or in a file; exactly one of the two inputs. `text` is what to send (no BOM). */
export function jsonBody(read: InputReader, inline: string, file: string, root: string, what: string): { text: string; value: unknown } {
  const text = read(inline)
  const fileName = read(file)
  if (text && fileName) throw new InputError(inline, `give either \`${inline}\` or \`${file}\`, not both`)
  if (!text && !fileName) throw new InputError(inline, `required: ${what}, inline in \`${inline}\` or in a file named by \`${file}\``)
  const source = text ? inline : file
  // Editors on Windows save files with a UTF-8 BOM; it is no part of the JSON, and services refuse it.
  const body = (text || readTextFile(file, fileName, root)).replace(/^\uFEFF/, '')
  try {
    return { text: body, value: JSON.parse(body) }
  } catch (error) {
    // V8 quotes up to 10 characters around the fault ('Unexpected token …, ..."AccountKey"...'): they may be
    // part of a key in the payload, so only the parser's verdict is shown.
    const message = (error as Error).message.split('\n')[0].replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/, '')
    throw new InputError(source, `is not valid JSON: ${message}`)
  }
}

/** A text file relative to the workspace; the error says what is wrong with it. */
export function readTextFile(input: string, file: string, root: string): string {
  const absolute = path.resolve(root, file)
  try {
    return readFileSync(absolute, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory, not a file' : `cannot be read (${code ?? String(error)})`
    throw new InputError(input, `'${file}' ${why} (looked at ${absolute})`)
  }
}

/** An existing regular file, as an absolute path. */
export function existingFile(input: string, file: string, root: string): string {
  const absolute = path.resolve(root, file)
  let stats
  try {
    stats = statSync(absolute)
  } catch {
    throw new InputError(input, `'${file}' does not exist (looked at ${absolute})`)
  }
  if (!stats.isFile()) throw new InputError(input, `'${file}' is not a file`)
  return absolute
}

/** A directory that exists and stays inside the workspace, as an absolute real path. */
export function existingDirectory(input: string, value: string, root: string): string {
  const absolute = path.resolve(root, value)
  let stats
  try {
    stats = statSync(absolute)
  } catch {
    throw new InputError(input, `'${value}' does not exist (looked at ${absolute})`)
  }
  if (!stats.isDirectory()) throw new InputError(input, `'${value}' is not a directory`)
  const real = realpathSync(absolute)
  if (!isWithin(realpathSync(root), real)) {
    throw new InputError(input, `'${value}' is outside the workspace (${realpathSync(root)}); only folders of the checked-out repository can be uploaded`)
  }
  return real
}

/** A folder to write into, inside the workspace (created later if missing). */
export function outputDirectory(input: string, value: string, root: string): string {
  const absolute = path.resolve(root, value)
  if (!isWithin(path.resolve(root), absolute)) {
    throw new InputError(input, `'${value}' is outside the workspace (${root}); outputs are written inside the repository checkout`)
  }
  return absolute
}
