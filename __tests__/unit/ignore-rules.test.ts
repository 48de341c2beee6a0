import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { IgnoreMatcher, parseIgnoreFile } from '../../src/snapshot/ignore-rules.js'

/**
 * One case: the ignore files (keyed by their directory, '' = root), a path, whether it is a directory, and
 * whether it must be excluded. `git: false` marks cases real git cannot check (the built-in `.git` rule).
 */
interface Case {
  ignore: string | Record<string, string>
  path: string
  dir?: boolean
  ignored: boolean
  git?: false
}

const CASES: Case[] = [
  // blank lines, comments, escapes, trailing spaces
  { ignore: '', path: 'a.txt', ignored: false },
  { ignore: '# a.txt\n\n   \n', path: 'a.txt', ignored: false },
  { ignore: '# a.txt', path: '# a.txt', ignored: false },
  { ignore: '\\#a.txt', path: '#a.txt', ignored: true },
  { ignore: '\\!important', path: '!important', ignored: true },
  { ignore: 'a.txt   ', path: 'a.txt', ignored: true },
  { ignore: 'a.txt\\ ', path: 'a.txt ', ignored: true },
  { ignore: 'a.txt\\ ', path: 'a.txt', ignored: false },
  { ignore: ' a.txt', path: 'a.txt', ignored: false },
  { ignore: 'x.txt\r\na.txt\r\n', path: 'a.txt', ignored: true },
  { ignore: '*.TXT', path: 'a.txt', ignored: false },
  // any depth vs anchored
  { ignore: '*.log', path: 'x.log', ignored: true },
  { ignore: '*.log', path: 'deep/dir/x.log', ignored: true },
  { ignore: '*.log', path: 'x.log.txt', ignored: false },
  { ignore: 'build', path: 'build', ignored: true },
  { ignore: 'build', path: 'src/build', dir: true, ignored: true },
  { ignore: '/build', path: 'build', dir: true, ignored: true },
  { ignore: '/build', path: 'src/build', dir: true, ignored: false },
  { ignore: 'doc/frotz', path: 'doc/frotz', ignored: true },
  { ignore: 'doc/frotz', path: 'a/doc/frotz', ignored: false },
  { ignore: 'doc/frotz/', path: 'doc/frotz', dir: true, ignored: true },
  { ignore: 'doc/frotz/', path: 'doc/frotz', ignored: false },
  // directory-only
  { ignore: 'build/', path: 'build', dir: true, ignored: true },
  { ignore: 'build/', path: 'build', ignored: false },
  { ignore: 'build/', path: 'a/b/build', dir: true, ignored: true },
  { ignore: 'build/', path: 'build/out.bin', ignored: true },
  // ** forms
  { ignore: '**/foo', path: 'foo', ignored: true },
  { ignore: '**/foo', path: 'a/b/foo', ignored: true },
  { ignore: '**/foo/bar', path: 'x/foo/bar', ignored: true },
  { ignore: '**/foo/bar', path: 'foo/bar', ignored: true },
  { ignore: '**/foo/bar', path: 'foo/x/bar', ignored: false },
  { ignore: 'abc/**', path: 'abc/x', ignored: true },
  { ignore: 'abc/**', path: 'abc/x/y', ignored: true },
  { ignore: 'abc/**', path: 'abc', dir: true, ignored: false },
  { ignore: 'a/**/b', path: 'a/b', ignored: true },
  { ignore: 'a/**/b', path: 'a/x/b', ignored: true },
  { ignore: 'a/**/b', path: 'a/x/y/b', ignored: true },
  { ignore: 'a/**/b', path: 'a/xb', ignored: false },
  { ignore: 'foo**bar', path: 'fooxbar', ignored: true },
  { ignore: 'foo**bar', path: 'foo/bar', ignored: false },
  { ignore: '**', path: 'anything.py', ignored: true },
  // * ? never match /
  { ignore: 'a/*.txt', path: 'a/x.txt', ignored: true },
  { ignore: 'a/*.txt', path: 'a/b/x.txt', ignored: false },
  { ignore: 'file?.txt', path: 'file1.txt', ignored: true },
  { ignore: 'file?.txt', path: 'file10.txt', ignored: false },
  { ignore: 'dir/a?b', path: 'dir/a/b', ignored: false },
  // character classes
  { ignore: '[abc].txt', path: 'a.txt', ignored: true },
  { ignore: '[abc].txt', path: 'd.txt', ignored: false },
  { ignore: '[!abc].txt', path: 'd.txt', ignored: true },
  { ignore: '[!abc].txt', path: 'a.txt', ignored: false },
  { ignore: '[^abc].txt', path: 'd.txt', ignored: true },
  { ignore: '[a-c]x', path: 'bx', ignored: true },
  { ignore: '[a-c]x', path: 'dx', ignored: false },
  { ignore: '*.py[co]', path: 'm.pyc', ignored: true },
  { ignore: '*.py[co]', path: 'm.py', ignored: false },
  { ignore: '[[:digit:]]*.csv', path: '2024.csv', ignored: true },
  { ignore: '[[:digit:]]*.csv', path: 'data.csv', ignored: false },
  { ignore: '[]]x', path: ']x', ignored: true },
  { ignore: 'x[!a]y', path: 'x/y', ignored: false },
  { ignore: 'x[/]y', path: 'x/y', ignored: false },
  { ignore: '[abc', path: '[abc', ignored: false },
  { ignore: '\\*.txt', path: '*.txt', ignored: true },
  { ignore: '\\*.txt', path: 'a.txt', ignored: false },
  { ignore: '\\[abc\\]', path: '[abc]', ignored: true },
  // negation; later rules win
  { ignore: '*.log\n!keep.log', path: 'keep.log', ignored: false },
  { ignore: '*.log\n!keep.log', path: 'other.log', ignored: true },
  { ignore: '!keep.log\n*.log', path: 'keep.log', ignored: true },
  { ignore: 'logs/\n!logs/', path: 'logs', dir: true, ignored: false },
  { ignore: 'build/*\n!build/keep.txt', path: 'build/keep.txt', ignored: false },
  { ignore: 'build/*\n!build/keep.txt', path: 'build/other.txt', ignored: true },
  { ignore: 'abc/**\n!abc/keep', path: 'abc/keep', ignored: false },
  // a file cannot be re-included if a parent directory is excluded
  { ignore: 'build/\n!build/keep.txt', path: 'build/keep.txt', ignored: true },
  { ignore: 'build\n!build/keep.txt', path: 'build/keep.txt', ignored: true },
  { ignore: 'data/\n!*.csv', path: 'data/a.csv', ignored: true },
  // nested ignore files: relative to their directory, deeper overrides shallower
  { ignore: { '': '*.txt', sub: '!keep.txt' }, path: 'sub/keep.txt', ignored: false },
  { ignore: { '': '*.txt', sub: '!keep.txt' }, path: 'keep.txt', ignored: true },
  { ignore: { '': '*.txt', sub: '!keep.txt' }, path: 'other/keep.txt', ignored: true },
  { ignore: { sub: '/x' }, path: 'sub/x', ignored: true },
  { ignore: { sub: '/x' }, path: 'x', ignored: false },
  { ignore: { sub: '/x' }, path: 'sub/y/x', ignored: false },
  { ignore: { sub: 'a/b' }, path: 'sub/a/b', ignored: true },
  { ignore: { sub: 'a/b' }, path: 'a/b', ignored: false },
  { ignore: { sub: 'data/' }, path: 'sub/data', dir: true, ignored: true },
  { ignore: { sub: 'data/' }, path: 'data', dir: true, ignored: false },
  { ignore: { '': '*.log', sub: '!*.log', 'sub/deeper': '*.log' }, path: 'sub/a.log', ignored: false },
  { ignore: { '': '*.log', sub: '!*.log', 'sub/deeper': '*.log' }, path: 'sub/deeper/a.log', ignored: true },
  { ignore: { '': 'sub/data/', sub: '!data/x' }, path: 'sub/data/x', ignored: true },
  { ignore: { '': 'sub/data/', sub: '!data/' }, path: 'sub/data/x', ignored: false },
  { ignore: { '': '!x.bin', sub: '*.bin' }, path: 'sub/x.bin', ignored: true },
  // .git is always excluded and cannot be re-included
  { ignore: '', path: '.git', dir: true, ignored: true, git: false },
  { ignore: '!.git', path: '.git', dir: true, ignored: true, git: false },
  { ignore: '', path: 'vendor/lib/.git', ignored: true, git: false },
  { ignore: '', path: '.git/config', ignored: true, git: false },
  { ignore: '', path: '.github', dir: true, ignored: false }
]

function ignoreFiles(c: Case): Record<string, string> {
  return typeof c.ignore === 'string' ? { '': c.ignore } : c.ignore
}

function matcherFor(c: Case): IgnoreMatcher {
  let matcher = new IgnoreMatcher()
  const files = ignoreFiles(c)
  for (const base of Object.keys(files).sort((a, b) => a.length - b.length)) {
    matcher = matcher.extend(parseIgnoreFile(files[base]!, { base, source: `${base ? `${base}/` : ''}.gitignore` }))
  }
  return matcher
}

function describeCase(c: Case): string {
  const files = Object.entries(ignoreFiles(c)).map(([base, text]) => `${base || '.'}: ${JSON.stringify(text)}`).join(', ')
  return `${files} → ${JSON.stringify(c.path)}${c.dir ? '/' : ''} ${c.ignored ? 'ignored' : 'kept'}`
}

describe('ignore rules (gitignore semantics)', () => {
  for (const c of CASES) {
    it(describeCase(c), () => {
      assert.equal(matcherFor(c).isIgnored(c.path, c.dir ?? false), c.ignored)
    })
  }

  it('parses flags, skips comments and blank lines, keeps line numbers', () => {
    const rules = parseIgnoreFile('# comment\n\n!/build/\nsrc/*.tmp\n*.log  \n\\!bang\n', { base: 'sub', source: 'sub/.amlignore' })
    assert.deepEqual(
      rules.map(r => [r.pattern, r.negated, r.dirOnly, r.anchored, r.base, r.line]),
      [
        ['!/build/', true, true, true, 'sub', 3],
        ['src/*.tmp', false, false, true, 'sub', 4],
        ['*.log', false, false, false, 'sub', 5],
        ['\\!bang', false, false, false, 'sub', 6]
      ]
    )
    assert.equal(rules[0]!.source, 'sub/.amlignore')
  })

  it('match() reports the deciding rule, deeper files first', () => {
    const matcher = new IgnoreMatcher(parseIgnoreFile('*.log', { source: '.gitignore' })).extend(
      parseIgnoreFile('!keep.log', { base: 'sub', source: 'sub/.gitignore' })
    )
    assert.equal(matcher.match('sub/keep.log', false)?.source, 'sub/.gitignore')
    assert.equal(matcher.match('sub/keep.log', false)?.negated, true)
    assert.equal(matcher.match('a.log', false)?.pattern, '*.log')
    assert.equal(matcher.match('a.txt', false), undefined)
  })

  // The table above is checked against real git, so it encodes git's behaviour rather than our reading of it.
  const git = spawnSync('git', ['--version'])
  it('agrees with `git check-ignore` on every case of the table', { skip: git.status !== 0 ? 'git is not installed' : false }, () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'ignore-rules-git-'))
    after(() => rmSync(tmp, { recursive: true, force: true }))
    const env = { ...process.env, HOME: tmp, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' }
    const disagreements: string[] = []
    CASES.forEach((c, index) => {
      if (c.git === false) return
      const repo = path.join(tmp, String(index))
      mkdirSync(repo)
      execFileSync('git', ['init', '-q', repo], { env })
      for (const [base, text] of Object.entries(ignoreFiles(c))) {
        mkdirSync(path.join(repo, base), { recursive: true })
        writeFileSync(path.join(repo, base, '.gitignore'), text)
      }
      const target = path.join(repo, c.path)
      if (c.dir) {
        mkdirSync(target, { recursive: true })
      } else {
        mkdirSync(path.dirname(target), { recursive: true })
        writeFileSync(target, 'x')
      }
      const result = spawnSync('git', ['-c', 'core.excludesFile=/dev/null', 'check-ignore', '-q', '--', c.path], { cwd: repo, env })
      assert.ok(result.status === 0 || result.status === 1, `git check-ignore failed: ${result.stderr}`)
      const gitIgnored = result.status === 0
      if (gitIgnored !== c.ignored) disagreements.push(`${describeCase(c)} (git says ${gitIgnored ? 'ignored' : 'kept'})`)
    })
    assert.deepEqual(disagreements, [])
  })
})
