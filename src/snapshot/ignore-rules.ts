/**
 * `.gitignore` / `.amlignore` semantics, implemented here so the snapshot matches what git (and Azure ML)
 * would exclude, without a dependency.
 *
 * - Blank lines and lines starting with `#` are skipped; `\#` and `\!` escape a leading `#` / `!`.
 * - Trailing spaces are trimmed unless escaped with a backslash (`foo\ `).
 * - `!pattern` re-includes what an earlier pattern excluded. A path cannot be re-included when one of its
 *   parent directories is excluded (git never looks inside an excluded directory, and neither does the walker).
 * - A trailing `/` matches directories only.
 * - A `/` at the start or in the middle anchors the pattern to the directory of the ignore file; otherwise it
 *   matches the name at any depth below that directory.
 * - `*` and `?` never match `/`; `[...]` classes (`[!...]` / `[^...]` negated, ranges, `[:alpha:]`) never match `/`.
 * - `**`: `**∕x` (any depth), `x∕**` (everything inside x), `a∕**∕b` (zero or more directories); any other run of
 *   asterisks is a plain `*`.
 * - The last matching rule wins; rules of a deeper ignore file come after (override) those of shallower ones.
 * - A pattern git rejects (unterminated `[`, trailing lone `\`, unknown `[:class:]`) matches nothing, as in git.
 *
 * Paths given to the matcher are POSIX paths relative to the snapshot root, without a leading `./` or `/`.
 */

/** The per-directory ignore files, in order of precedence: `.amlignore` replaces `.gitignore` in its directory. */
export const IGNORE_FILE_NAMES = ['.amlignore', '.gitignore'] as const

/** Always excluded at any depth, whatever the ignore files say. */
export const ALWAYS_EXCLUDED = '.git'

export interface IgnoreRule {
  /** The pattern as written (after trimming), e.g. `!build/keep.txt`; for messages. */
  readonly pattern: string
  /** `!pattern`: re-includes. */
  readonly negated: boolean
  /** Trailing `/`: matches directories only. */
  readonly dirOnly: boolean
  /** Matched against the path relative to `base` (true) or against the last path component (false). */
  readonly anchored: boolean
  /** POSIX directory of the ignore file relative to the root, `''` for the root. */
  readonly base: string
  /** Where the rule comes from, e.g. `sub/.amlignore`, and its 1-based line. */
  readonly source: string
  readonly line: number
  /** The compiled pattern; `null` when git would reject it (it then matches nothing). */
  readonly regex: RegExp | null
}

export interface ParseOptions {
  /** POSIX directory of the ignore file relative to the root; default `''` (the root). */
  base?: string
  /** Where the rules come from, for messages, e.g. `sub/.amlignore`; default `'ignore file'`. */
  source?: string
}

/** Parses the text of a `.gitignore` / `.amlignore` file into rules, in file order. */
export function parseIgnoreFile(text: string, options: ParseOptions = {}): IgnoreRule[] {
  const base = normalizeBase(options.base ?? '')
  const source = options.source ?? (base ? `${base}/ignore file` : 'ignore file')
  const rules: IgnoreRule[] = []
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  lines.forEach((raw, index) => {
    const rule = parseLine(raw, base, source, index + 1)
    if (rule) rules.push(rule)
  })
  return rules
}

function normalizeBase(base: string): string {
  return base.replace(/\\/g, '/').replace(/^\.\/?/, '').replace(/^\/+|\/+$/g, '')
}

function parseLine(raw: string, base: string, source: string, line: number): IgnoreRule | undefined {
  let text = trimTrailingSpaces(raw)
  if (text === '' || text.startsWith('#')) return undefined
  const pattern = text
  let negated = false
  if (text.startsWith('!')) {
    negated = true
    text = text.slice(1)
  }
  let dirOnly = false
  if (text.endsWith('/') && !isEscaped(text, text.length - 1)) {
    dirOnly = true
    text = text.replace(/\/+$/, '')
  }
  if (text === '') return undefined
  // A separator at the start or in the middle anchors the pattern to the ignore file's directory.
  const anchored = text.includes('/')
  if (text.startsWith('/')) text = text.replace(/^\/+/, '')
  if (text === '') return undefined
  const body = globToRegExpSource(text)
  return {
    pattern,
    negated,
    dirOnly,
    anchored,
    base,
    source,
    line,
    regex: body === null ? null : new RegExp(`^${body}$`)
  }
}

/** Removes trailing spaces that are not escaped by a backslash (git's `trim_trailing_spaces`). */
function trimTrailingSpaces(line: string): string {
  let keep = 0
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\\' && i + 1 < line.length) {
      i++
      keep = i + 1
    } else if (line[i] !== ' ') {
      keep = i + 1
    }
  }
  return line.slice(0, keep)
}

function isEscaped(text: string, index: number): boolean {
  let backslashes = 0
  for (let i = index - 1; i >= 0 && text[i] === '\\'; i--) backslashes++
  return backslashes % 2 === 1
}

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\/-]/g
function escapeRegExp(text: string): string {
  return text.replace(REGEX_SPECIAL, '\\$&')
}

/** Translates a gitignore glob (without `!`, leading or trailing `/`) to a RegExp source; `null` if invalid. */
function globToRegExpSource(glob: string): string | null {
  let out = ''
  let i = 0
  while (i < glob.length) {
    const c = glob[i]!
    if (c === '*') {
      let j = i
      while (glob[j] === '*') j++
      const wholeSegment = (i === 0 || glob[i - 1] === '/') && (j === glob.length || glob[j] === '/')
      if (j - i >= 2 && wholeSegment) {
        if (j === glob.length) {
          // `x/**` (everything inside x) or a lone `**`.
          out += '[\\s\\S]*'
        } else {
          // `**/`: zero or more directories.
          out += '(?:[\\s\\S]*/)?'
          j++
        }
      } else {
        out += '[^/]*'
      }
      i = j
    } else if (c === '?') {
      out += '[^/]'
      i++
    } else if (c === '\\') {
      if (i + 1 >= glob.length) return null
      out += escapeRegExp(glob[i + 1]!)
      i += 2
    } else if (c === '[') {
      const parsed = parseClass(glob, i)
      if (parsed === null) return null
      out += parsed.source
      i = parsed.end
    } else {
      out += escapeRegExp(c)
      i++
    }
  }
  return out
}

const POSIX_CLASSES: Record<string, string> = {
  alnum: 'a-zA-Z0-9',
  alpha: 'a-zA-Z',
  blank: ' \\t',
  cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9',
  graph: '\\x21-\\x7e',
  lower: 'a-z',
  print: '\\x20-\\x7e',
  punct: '!-\\/:-@\\[-`{-~',
  space: ' \\t\\n\\r\\f\\v',
  upper: 'A-Z',
  xdigit: '0-9a-fA-F'
}

function escapeClassChar(c: string): string {
  return /[\\\]\[^-]/.test(c) ? `\\${c}` : c
}

/** Parses `[...]` starting at `start`; returns the RegExp source and the index after `]`, or null if invalid. */
function parseClass(glob: string, start: number): { source: string; end: number } | null {
  let i = start + 1
  let negated = false
  if (glob[i] === '!' || glob[i] === '^') {
    negated = true
    i++
  }
  let body = ''
  let first = true
  for (;;) {
    if (i >= glob.length) return null // unterminated: git rejects the pattern
    let c = glob[i]!
    if (c === ']' && !first) break
    first = false
    if (c === '[' && glob[i + 1] === ':') {
      const close = glob.indexOf(':]', i + 2)
      if (close === -1) return null
      const name = glob.slice(i + 2, close)
      const cls = POSIX_CLASSES[name]
      if (cls === undefined) return null
      body += cls
      i = close + 2
      continue
    }
    if (c === '\\') {
      i++
      if (i >= glob.length) return null
      c = glob[i]!
    }
    i++
    // A range `a-z` (the end may be escaped); a `-` just before `]` is literal.
    if (glob[i] === '-' && i + 1 < glob.length && glob[i + 1] !== ']') {
      let endChar = glob[i + 1]!
      let next = i + 2
      if (endChar === '\\') {
        if (i + 2 >= glob.length) return null
        endChar = glob[i + 2]!
        next = i + 3
      }
      // A reversed range matches nothing (as in git); leave it out rather than building an invalid RegExp.
      if (c <= endChar) body += `${escapeClassChar(c)}-${escapeClassChar(endChar)}`
      i = next
      continue
    }
    body += escapeClassChar(c)
  }
  const end = i + 1
  // Classes never match `/`.
  if (negated) return { source: `[^/${body}]`, end }
  return { source: body === '' ? '(?!)' : `(?!/)[${body}]`, end }
}

/** The rule that always excludes `.git` (directory or file) at any depth; it cannot be negated. */
const GIT_RULE: IgnoreRule = {
  pattern: ALWAYS_EXCLUDED,
  negated: false,
  dirOnly: false,
  anchored: false,
  base: '',
  source: 'built-in',
  line: 0,
  regex: /^\.git$/
}

/** Whether one rule matches `path` (relative to the root); `isDir` says whether the path is a directory. */
export function ruleMatches(rule: IgnoreRule, path: string, isDir: boolean): boolean {
  if (rule.regex === null) return false
  if (rule.dirOnly && !isDir) return false
  let relative = path
  if (rule.base !== '') {
    if (!path.startsWith(`${rule.base}/`)) return false
    relative = path.slice(rule.base.length + 1)
  }
  if (relative === '') return false
  const subject = rule.anchored ? relative : relative.slice(relative.lastIndexOf('/') + 1)
  return rule.regex.test(subject)
}

/**
 * The rules in force in one directory: its own rules on top of its parent's. Immutable; `extend` returns a
 * new layer, so the walker can hand each directory its own matcher without copying rule lists.
 */
export class IgnoreMatcher {
  private readonly rules: readonly IgnoreRule[]
  private readonly parent: IgnoreMatcher | undefined

  constructor(rules: readonly IgnoreRule[] = [], parent?: IgnoreMatcher) {
    this.rules = rules
    this.parent = parent
  }

  /** A matcher with `rules` (from a deeper ignore file) overriding this one's. */
  extend(rules: readonly IgnoreRule[]): IgnoreMatcher {
    return rules.length === 0 ? this : new IgnoreMatcher(rules, this)
  }

  /**
   * The rule that decides `path` itself (the last one matching, deeper files first), without looking at
   * its parent directories; `undefined` when no rule matches. The walker uses this, since it never descends
   * into an excluded directory.
   */
  match(path: string, isDir: boolean): IgnoreRule | undefined {
    const name = path.slice(path.lastIndexOf('/') + 1)
    if (name === ALWAYS_EXCLUDED) return GIT_RULE
    for (let layer: IgnoreMatcher | undefined = this; layer; layer = layer.parent) {
      for (let i = layer.rules.length - 1; i >= 0; i--) {
        const rule = layer.rules[i]!
        if (ruleMatches(rule, path, isDir)) return rule
      }
    }
    return undefined
  }

  /** Whether `path` is excluded, taking its parent directories into account (as git does). */
  isIgnored(path: string, isDir: boolean): boolean {
    const parts = path.split('/')
    for (let i = 1; i < parts.length; i++) {
      const rule = this.match(parts.slice(0, i).join('/'), true)
      if (rule && !rule.negated) return true
    }
    const rule = this.match(path, isDir)
    return rule !== undefined && !rule.negated
  }
}
