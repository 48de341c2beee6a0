/**
 * The code snapshot: the source directory zipped with paths relative to it (so the entry script is at the
 * root of the zip), uploaded as `projectZipFile` to `startrun`.
 *
 * planSnapshot walks the directory (sorted, so the zip is deterministic), applying `.amlignore` / `.gitignore`
 * per directory and pruning excluded directories without descending, and checks Azure ML's limits before
 * anything is zipped. createSnapshot streams the planned files into a temporary zip.
 */
import { randomBytes } from 'node:crypto'
import { createWriteStream, constants as fsConstants, promises as fs } from 'node:fs'
import type { Dirent, Stats } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ZipArchive } from 'archiver'
import { ActionError } from '../errors.js'
import type { Logger } from '../logger.js'
import { IGNORE_FILE_NAMES, IgnoreMatcher, parseIgnoreFile } from './ignore-rules.js'
import type { IgnoreRule } from './ignore-rules.js'
import { isWithin } from '../paths.js'

/** Azure ML's snapshot limits. */
export const SNAPSHOT_LIMITS = { maxFiles: 2000, maxBytes: 300 * 1024 * 1024 }
export type SnapshotLimits = typeof SNAPSHOT_LIMITS

export interface SnapshotFile {
  /** POSIX path relative to the root: the name in the zip. */
  path: string
  /** Where the content is read from (for a followed symbolic link, its real target). */
  absolutePath: string
  size: number
}

export interface SnapshotPlan {
  /** The real, absolute path of the source directory. */
  root: string
  files: SnapshotFile[]
  totalBytes: number
  /** Relative paths of the ignore files applied. */
  ignoreFiles: string[]
  /** Entries not included although no ignore rule excludes them (symbolic links leaving the root, FIFOs, …). */
  skipped: { path: string; reason: string }[]
}

export interface Snapshot {
  zipPath: string
  zipBytes: number
  fileCount: number
  totalBytes: number
  /** POSIX relative paths, in zip order. */
  files: string[]
  /** Deletes the temporary zip. */
  dispose(): Promise<void>
}

const HOW_TO_EXCLUDE =
  'add patterns to .amlignore in the source directory (when present it is used instead of .gitignore in that ' +
  'directory, so copy over any .gitignore patterns you still need)'

/** Stat calls in flight per directory. */
const STAT_CONCURRENCY = 32
/** How many excluded paths are listed in the debug log. */
const MAX_DEBUG_EXCLUDED = 200

interface WalkState {
  readonly rootReal: string
  readonly logger: Logger
  /** Stop walking past this many files: the limit error does not need an exact count of a huge tree. */
  readonly walkCap: number
  truncated: boolean
  readonly files: SnapshotFile[]
  totalBytes: number
  readonly ignoreFiles: string[]
  readonly skipped: { path: string; reason: string }[]
  readonly excluded: { path: string; rule: IgnoreRule }[]
  excludedCount: number
}

type EntryKind =
  | { kind: 'file'; real: string; size?: number }
  | { kind: 'dir'; real: string }
  | { kind: 'skip'; isDir: boolean; reason: string; warning: string }

interface Entry {
  name: string
  rel: string
  info: EntryKind
}

/** Walks `root`, applies the ignore files and checks the limits; throws an ActionError if the snapshot cannot be made. */
export async function planSnapshot(root: string, logger: Logger, limits: SnapshotLimits = SNAPSHOT_LIMITS): Promise<SnapshotPlan> {
  const rootReal = await resolveRoot(root)
  const state: WalkState = {
    rootReal,
    logger,
    walkCap: Math.max(limits.maxFiles * 10, 10_000),
    truncated: false,
    files: [],
    totalBytes: 0,
    ignoreFiles: [],
    skipped: [],
    excluded: [],
    excludedCount: 0
  }
  await walkDirectory(state, rootReal, '', new IgnoreMatcher(), new Set([rootReal]))
  // Full-path order (as `git ls-files`), independent of the file system and the locale.
  state.files.sort((a, b) => compareNames(a.path, b.path))

  const plan: SnapshotPlan = {
    root: rootReal,
    files: state.files,
    totalBytes: state.totalBytes,
    ignoreFiles: state.ignoreFiles,
    skipped: state.skipped
  }
  if (logger.isDebug()) {
    logger.debug(`Snapshot ignore files applied: ${plan.ignoreFiles.length ? plan.ignoreFiles.join(', ') : '(none)'}`)
    for (const { path: p, rule } of state.excluded) {
      logger.debug(`  excluded ${p} (${rule.source}${rule.line ? `:${rule.line}` : ''}: ${rule.pattern})`)
    }
    if (state.excludedCount > state.excluded.length) logger.debug(`  … and ${state.excludedCount - state.excluded.length} more excluded`)
  }

  if (plan.files.length === 0) {
    const why = state.excludedCount
      ? `all ${state.excludedCount} entries in it are excluded${plan.ignoreFiles.length ? ` by ${plan.ignoreFiles.join(', ')}` : ''}`
      : plan.skipped.length
        ? `it has no regular files (skipped: ${plan.skipped.map(s => s.path).join(', ')})`
        : 'it is empty'
    throw new ActionError(`Nothing to upload: the source directory '${root}' has no files to snapshot (${why}).`, {
      hint: 'Check source-directory (it is relative to the workspace; is the repository checked out?) and the patterns in .amlignore / .gitignore.'
    })
  }
  checkLimits(root, plan, state.truncated, limits)
  return plan
}

/** Plans the snapshot (throwing before any zipping if it is over the limits) and zips it to a temporary file. */
export async function createSnapshot(
  root: string,
  logger: Logger,
  options: { limits?: SnapshotLimits; tempDir?: string } = {}
): Promise<Snapshot> {
  const plan = await planSnapshot(root, logger, options.limits ?? SNAPSHOT_LIMITS)
  return zipSnapshot(plan, logger, options)
}

/** Zips a planned snapshot to a temporary file (so the plan can be checked, and requests started, first). */
export async function zipSnapshot(plan: SnapshotPlan, logger: Logger, options: { tempDir?: string } = {}): Promise<Snapshot> {
  const tempDir = options.tempDir || process.env.RUNNER_TEMP || os.tmpdir()
  await fs.mkdir(tempDir, { recursive: true })
  const zipPath = path.join(tempDir, `azureml-snapshot-${randomBytes(8).toString('hex')}.zip`)
  try {
    await writeZip(plan, zipPath)
  } catch (error) {
    await fs.rm(zipPath, { force: true })
    throw error
  }
  const zipBytes = (await fs.stat(zipPath)).size
  const count = plan.files.length
  logger.info(`Snapshot: ${count} file${count === 1 ? '' : 's'}, ${formatBytes(plan.totalBytes)} → zip ${formatBytes(zipBytes)}`)
  if (logger.isDebug()) {
    logger.debug(`Snapshot files (${count}):\n${plan.files.map(f => `  ${formatBytes(f.size).padStart(9)}  ${f.path}`).join('\n')}`)
  }
  return {
    zipPath,
    zipBytes,
    fileCount: count,
    totalBytes: plan.totalBytes,
    files: plan.files.map(f => f.path),
    dispose: () => fs.rm(zipPath, { force: true })
  }
}

async function resolveRoot(root: string): Promise<string> {
  const absolute = path.resolve(root)
  let real: string
  let stats: Stats
  try {
    real = await fs.realpath(absolute)
    stats = await fs.stat(real)
  } catch (error) {
    const code = errorCode(error)
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new ActionError(`The source directory '${root}' does not exist (${absolute}).`, {
        hint: 'source-directory is relative to the workspace; check its spelling and that the repository is checked out (actions/checkout).'
      })
    }
    throw unreadable(root, error)
  }
  if (!stats.isDirectory()) {
    throw new ActionError(`The source directory '${root}' is not a directory.`, {
      hint: 'Set source-directory to the directory that contains the entry script, not to the script itself.'
    })
  }
  return real
}

async function walkDirectory(state: WalkState, dirAbs: string, dirRel: string, parentMatcher: IgnoreMatcher, ancestors: ReadonlySet<string>): Promise<void> {
  let dirents: Dirent[]
  try {
    dirents = await fs.readdir(dirAbs, { withFileTypes: true })
  } catch (error) {
    throw unreadable(dirRel || '.', error)
  }
  dirents.sort((a, b) => compareNames(a.name, b.name))
  const entries = await mapLimit(dirents, STAT_CONCURRENCY, dirent => classify(state, dirent, dirAbs, dirRel))

  // This directory's own ignore file: .amlignore if present, else .gitignore.
  let matcher = parentMatcher
  for (const name of IGNORE_FILE_NAMES) {
    const entry = entries.find(e => e.name === name && e.info.kind === 'file')
    if (!entry || entry.info.kind !== 'file') continue
    let text: string
    try {
      text = await fs.readFile(entry.info.real, 'utf8')
    } catch (error) {
      throw unreadable(entry.rel, error)
    }
    matcher = matcher.extend(parseIgnoreFile(text, { base: dirRel, source: entry.rel }))
    state.ignoreFiles.push(entry.rel)
    break
  }

  const included: Entry[] = []
  for (const entry of entries) {
    const isDir = entry.info.kind === 'dir' || (entry.info.kind === 'skip' && entry.info.isDir)
    const rule = matcher.match(entry.rel, isDir)
    if (rule && !rule.negated) {
      state.excludedCount++
      if (state.excluded.length < MAX_DEBUG_EXCLUDED) state.excluded.push({ path: isDir ? `${entry.rel}/` : entry.rel, rule })
      continue
    }
    included.push(entry)
  }

  // Sizes, and a readability check so that an unreadable file fails here rather than halfway through the zip.
  await mapLimit(included, STAT_CONCURRENCY, async entry => {
    if (entry.info.kind !== 'file') return
    try {
      if (entry.info.size === undefined) entry.info.size = (await fs.lstat(entry.info.real)).size
      await fs.access(entry.info.real, fsConstants.R_OK)
    } catch (error) {
      throw unreadable(entry.rel, error)
    }
  })

  for (const entry of included) {
    if (state.truncated) return
    const info = entry.info
    if (info.kind === 'skip') {
      state.skipped.push({ path: entry.rel, reason: info.reason })
      state.logger.warning(info.warning)
    } else if (info.kind === 'file') {
      state.files.push({ path: entry.rel, absolutePath: info.real, size: info.size ?? 0 })
      state.totalBytes += info.size ?? 0
      if (state.files.length > state.walkCap) state.truncated = true
    } else if (ancestors.has(info.real)) {
      const reason = 'it points to one of its own parent directories (a cycle)'
      state.skipped.push({ path: entry.rel, reason })
      state.logger.warning(`Not following symbolic link ${entry.rel} → ${info.real}: ${reason}.`)
    } else {
      await walkDirectory(state, info.real, entry.rel, matcher, new Set([...ancestors, info.real]))
    }
  }
}

async function classify(state: WalkState, dirent: Dirent, dirAbs: string, dirRel: string): Promise<Entry> {
  const name = dirent.name
  const rel = dirRel ? `${dirRel}/${name}` : name
  const abs = path.join(dirAbs, name)
  const entry = (info: EntryKind): Entry => ({ name, rel, info })

  const unzippable = unrepresentableName(name, dirRel)
  if (unzippable) {
    const reason = `its name ${unzippable}, which cannot be stored faithfully in the zip`
    return entry({ kind: 'skip', isDir: dirent.isDirectory(), reason, warning: `Skipping ${JSON.stringify(rel)}: ${reason}.` })
  }
  if (dirent.isDirectory()) return entry({ kind: 'dir', real: abs })
  if (dirent.isFile()) return entry({ kind: 'file', real: abs })
  if (!dirent.isSymbolicLink()) {
    const kind = specialKind(dirent)
    return entry({ kind: 'skip', isDir: false, reason: `not a regular file (${kind})`, warning: `Skipping ${rel}: it is a ${kind}, not a regular file.` })
  }

  // A symbolic link: followed only when its real target is inside the root.
  let linkText = ''
  try {
    linkText = await fs.readlink(abs)
  } catch {
    // Reported below through realpath.
  }
  let real: string
  let target: Stats
  try {
    real = await fs.realpath(abs)
    target = await fs.stat(real)
  } catch (error) {
    const code = errorCode(error)
    const reason =
      code === 'ENOENT' || code === 'ENOTDIR'
        ? 'its target does not exist'
        : code === 'ELOOP'
          ? 'it is part of a loop of symbolic links'
          : `it cannot be resolved (${describeError(error)})`
    return entry({ kind: 'skip', isDir: false, reason: `broken symbolic link: ${reason}`, warning: `Not following symbolic link ${rel} → ${linkText}: ${reason}.` })
  }
  if (!isWithin(state.rootReal, real)) {
    const reason = 'it points outside the source directory'
    return entry({ kind: 'skip', isDir: target.isDirectory(), reason: `symbolic link to ${real}: ${reason}`, warning: `Not following symbolic link ${rel} → ${real}: ${reason}.` })
  }
  if (target.isDirectory()) return entry({ kind: 'dir', real })
  if (target.isFile()) return entry({ kind: 'file', real, size: target.size })
  const kind = specialKind(target)
  const reason = `symbolic link to a ${kind}, not a regular file`
  return entry({ kind: 'skip', isDir: false, reason, warning: `Skipping ${rel}: it is a ${reason}.` })
}

/**
 * Why a name would not round-trip through the zip (archiver turns `\` into `/` and strips a leading `x:`),
 * or undefined. On Windows `\` cannot occur in a name.
 */
function unrepresentableName(name: string, dirRel: string): string | undefined {
  if (name.includes('\\')) return 'contains a backslash'
  if (dirRel === '' && /^\w+:/.test(name)) return 'starts with a drive-like prefix'
  return undefined
}

function specialKind(entry: { isFIFO(): boolean; isSocket(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean }): string {
  if (entry.isFIFO()) return 'FIFO'
  if (entry.isSocket()) return 'socket'
  if (entry.isBlockDevice()) return 'block device'
  if (entry.isCharacterDevice()) return 'character device'
  return 'special file'
}

/** Byte-wise (UTF-16 code unit) order: locale-independent, so every runner builds the same zip. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++
      results[index] = await fn(items[index]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

function checkLimits(root: string, plan: SnapshotPlan, truncated: boolean, limits: SnapshotLimits): void {
  const tooMany = truncated || plan.files.length > limits.maxFiles
  const tooBig = plan.totalBytes > limits.maxBytes
  if (!tooMany && !tooBig) return

  const count = `${truncated ? 'more than ' : ''}${formatCount(plan.files.length)} files`
  const problems: string[] = []
  if (tooMany) problems.push(`${count} (the limit is ${formatCount(limits.maxFiles)} files)`)
  if (tooBig) problems.push(`${truncated ? 'more than ' : ''}${formatBytes(plan.totalBytes)} (the limit is ${formatBytes(limits.maxBytes)})`)
  const lines = [
    `The source directory '${root}' is too large for an Azure ML snapshot: ${problems.join(' and ')}${tooBig && !tooMany ? ` in ${count}` : ''}.`
  ]

  const bySize = [...plan.files].sort((a, b) => b.size - a.size || compareNames(a.path, b.path))
  lines.push('Largest files:', ...bySize.slice(0, 10).map(f => `  ${formatBytes(f.size).padStart(9)}  ${f.path}`))
  const directories = directoryTotals(plan.files)
  if (tooMany) {
    const most = [...directories].sort((a, b) => b.files - a.files || b.bytes - a.bytes || compareNames(a.path, b.path)).slice(0, 10)
    if (most.length) lines.push('Directories with the most files:', ...most.map(d => `  ${formatCount(d.files).padStart(7)} file${d.files === 1 ? ' ' : 's'}  ${d.path}/  (${formatBytes(d.bytes)})`))
  } else {
    const biggest = [...directories].sort((a, b) => b.bytes - a.bytes || compareNames(a.path, b.path)).slice(0, 5)
    if (biggest.length) lines.push('Largest directories:', ...biggest.map(d => `  ${formatBytes(d.bytes).padStart(9)}  ${d.path}/  (${formatCount(d.files)} file${d.files === 1 ? '' : 's'})`))
  }

  throw new ActionError(lines.join('\n'), {
    hint: `Exclude what the job does not need: ${HOW_TO_EXCLUDE}. For example:\n${examplePatterns(plan, directories, bySize, limits).map(e => `  ${e}`).join('\n')}`
  })
}

interface Candidate {
  path: string
  isDir: boolean
  files: number
  bytes: number
}

/**
 * Up to 5 ready-to-paste patterns that would bring the snapshot under the limits: at each step the smallest
 * directory or file (a directory, for the file-count limit) that alone covers what is still over the limit,
 * else the biggest one.
 */
function examplePatterns(plan: SnapshotPlan, directories: readonly Candidate[], bySize: readonly SnapshotFile[], limits: SnapshotLimits): string[] {
  const candidates: Candidate[] = [
    ...directories,
    ...bySize.slice(0, 100).map(f => ({ path: f.path, isDir: false, files: 1, bytes: f.size }))
  ]
  const chosen: Candidate[] = []
  const related = (a: Candidate, b: Candidate): boolean =>
    a.path === b.path || (b.isDir && a.path.startsWith(`${b.path}/`)) || (a.isDir && b.path.startsWith(`${a.path}/`))
  let files = plan.files.length
  let bytes = plan.totalBytes
  while (chosen.length < 5) {
    const byFiles = files > limits.maxFiles
    const need = byFiles ? files - limits.maxFiles : bytes - limits.maxBytes
    if (need <= 0) break
    const measure = (c: Candidate): number => (byFiles ? c.files : c.bytes)
    const available = candidates.filter(c => !chosen.some(x => related(c, x)))
    if (!available.length) break
    // Too many files: a folder (data, dependencies) is the culprit, not one file (which may be the entry script).
    const coveringDirs = byFiles ? available.filter(c => c.isDir && measure(c) >= need) : []
    const covering = coveringDirs.length ? coveringDirs : available.filter(c => measure(c) >= need)
    const pick = covering.length
      ? covering.reduce((best, c) => (measure(c) < measure(best) ? c : best))
      : available.reduce((best, c) => (measure(c) > measure(best) ? c : best))
    chosen.push(pick)
    files -= pick.files
    bytes -= pick.bytes
  }
  return chosen.map(c => `/${escapePattern(c.path)}${c.isDir ? '/' : ''}`)
}

/**
 * Every directory with the number and size of the files below it (recursively). A directory whose files all
 * come from one child is left out in favour of that child's shallowest ancestor (`.venv/`, not `.venv/lib/…`).
 */
function directoryTotals(files: readonly SnapshotFile[]): Candidate[] {
  const stats = new Map<string, { files: number; bytes: number }>()
  for (const file of files) {
    let slash = file.path.indexOf('/')
    while (slash !== -1) {
      const dir = file.path.slice(0, slash)
      const s = stats.get(dir) ?? { files: 0, bytes: 0 }
      s.files++
      s.bytes += file.size
      stats.set(dir, s)
      slash = file.path.indexOf('/', slash + 1)
    }
  }
  const result: Candidate[] = []
  for (const [dir, s] of stats) {
    const parent = dir.includes('/') ? stats.get(dir.slice(0, dir.lastIndexOf('/'))) : undefined
    if (parent && parent.files === s.files) continue
    result.push({ path: dir, isDir: true, ...s })
  }
  return result
}

/** Escapes a path so that, as a gitignore pattern, it matches only itself. */
function escapePattern(p: string): string {
  return p.replace(/[\\*?[]/g, '\\$&').replace(/ $/, '\\ ')
}

function writeZip(plan: SnapshotPlan, zipPath: string): Promise<void> {
  const byAbsolute = new Map(plan.files.map(f => [f.absolutePath, f.path]))
  return new Promise<void>((resolve, reject) => {
    let failed = false
    let entries = 0
    const output = createWriteStream(zipPath, { flags: 'wx', mode: 0o600 })
    // statConcurrency 1 keeps the entries in plan order (archiver queues them as their stat completes).
    const archive = new ZipArchive({ zlib: { level: 6 }, statConcurrency: 1 })
    const fail = (error: unknown): void => {
      if (failed) return
      failed = true
      archive.abort()
      output.destroy()
      const errPath = (error as { path?: unknown }).path
      const rel = typeof errPath === 'string' ? (byAbsolute.get(errPath) ?? errPath) : undefined
      reject(
        error instanceof ActionError
          ? error
          : new ActionError(`Could not write the snapshot zip${rel ? `: cannot read '${rel}'` : ''}: ${describeError(error)}`, {
              hint: rel ? 'The file changed or became unreadable while the snapshot was being made; fix its permissions or add it to .amlignore.' : `Check that ${path.dirname(zipPath)} is writable and has free space.`,
              cause: error
            })
      )
    }
    // archiver reports a file it cannot stat as a 'warning' and leaves it out: that is a failure here.
    archive.on('warning', fail)
    archive.on('error', fail)
    archive.on('entry', () => {
      entries++
    })
    output.on('error', fail)
    output.on('close', () => {
      if (failed) return
      if (entries !== plan.files.length) {
        fail(new ActionError(`The snapshot zip has ${entries} entries instead of ${plan.files.length}.`))
        return
      }
      resolve()
    })
    archive.pipe(output)
    for (const file of plan.files) {
      if (file.path.startsWith('/') || file.path.split('/').some(part => part === '..' || part === '' || part === '.git')) {
        fail(new ActionError(`Refusing to add '${file.path}' to the snapshot: not a safe relative path.`))
        return
      }
      archive.file(file.absolutePath, { name: file.path })
    }
    archive.finalize().catch(fail)
  })
}

function unreadable(relPath: string, error: unknown): ActionError {
  return new ActionError(`Cannot read '${relPath}' in the source directory: ${describeError(error)}`, {
    hint: 'Fix its permissions (the runner user must be able to read it), or exclude it by adding it to .amlignore in the source directory.',
    cause: error
  })
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

function describeError(error: unknown): string {
  const code = errorCode(error)
  const message = error instanceof Error ? error.message : String(error)
  return code && !message.startsWith(code) ? `${code}: ${message}` : message
}

/** 1024-based, one decimal, `.0` dropped: `12 B`, `48.2 KB`, `300 MB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  const text = unit === 0 ? String(value) : value.toFixed(1).replace(/\.0$/, '')
  return `${text} ${units[unit]}`
}

function formatCount(n: number): string {
  return n.toLocaleString('en-US')
}
