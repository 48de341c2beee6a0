import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { ActionError } from '../../src/errors.js'
import { MemoryLogger } from '../../src/logger.js'
import { createSnapshot, planSnapshot } from '../../src/snapshot/snapshot.js'
import type { Snapshot } from '../../src/snapshot/snapshot.js'

const scratch = mkdtempSync(path.join(os.tmpdir(), 'snapshot-test-'))
after(() => rmSync(scratch, { recursive: true, force: true }))
const isRoot = process.getuid?.() === 0

let counter = 0
/** A fresh source directory with the given files (content string or Buffer), plus a fresh temp dir for the zip. */
function tree(files: Record<string, string | Buffer>): { root: string; tempDir: string } {
  const base = path.join(scratch, String(counter++))
  const root = path.join(base, 'src')
  const tempDir = path.join(base, 'tmp')
  mkdirSync(root, { recursive: true })
  mkdirSync(tempDir)
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, rel)
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, content)
  }
  return { root, tempDir }
}

function zipEntries(zipPath: string): string[] {
  return execFileSync('unzip', ['-Z1', zipPath], { encoding: 'utf8' }).split('\n').filter(Boolean)
}

function zipContent(zipPath: string, entry: string): Buffer {
  return execFileSync('unzip', ['-p', zipPath, entry.replace(/[[\]*?]/g, '\\$&')], { maxBuffer: 64 * 1024 * 1024 })
}

async function snapshotOf(root: string, tempDir: string, logger = new MemoryLogger(true)): Promise<Snapshot> {
  const snapshot = await createSnapshot(root, logger, { tempDir })
  after(() => snapshot.dispose())
  return snapshot
}

async function rejection(promise: Promise<unknown>): Promise<ActionError> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof ActionError, `expected an ActionError, got ${String(error)}`)
    return error
  }
  assert.fail('expected the promise to reject')
}

describe('createSnapshot', () => {
  it('zips the files with paths relative to the source directory, contents intact, entry script at the root', async () => {
    const binary = randomBytes(200_000)
    const { root, tempDir } = tree({ 'train.py': 'print("train")\n', 'pkg/util.py': 'X = 1\n', 'pkg/data/weights.bin': binary, 'name with spaces [1].txt': 'ok' })
    const logger = new MemoryLogger(true)
    const snapshot = await snapshotOf(root, tempDir, logger)

    const expected = ['name with spaces [1].txt', 'pkg/data/weights.bin', 'pkg/util.py', 'train.py']
    assert.deepEqual(zipEntries(snapshot.zipPath), expected)
    assert.deepEqual(snapshot.files, expected)
    assert.equal(snapshot.fileCount, 4)
    assert.equal(snapshot.totalBytes, 15 + 6 + 200_000 + 2)
    assert.equal(zipContent(snapshot.zipPath, 'train.py').toString(), 'print("train")\n')
    assert.ok(zipContent(snapshot.zipPath, 'pkg/data/weights.bin').equals(binary))
    assert.equal(zipContent(snapshot.zipPath, 'name with spaces [1].txt').toString(), 'ok')

    assert.match(path.basename(snapshot.zipPath), /^azureml-snapshot-[0-9a-f]+\.zip$/)
    assert.equal(path.dirname(snapshot.zipPath), tempDir)
    assert.equal(snapshot.zipBytes, readFileSync(snapshot.zipPath).length)
    assert.ok(logger.lines.includes(`Snapshot: 4 files, 195.3 KB → zip ${formatKb(snapshot.zipBytes)}`), logger.text())
    assert.match(logger.text(), /debug: Snapshot files \(4\):[\s\S]*pkg\/util\.py/)

    await snapshot.dispose()
    assert.equal(existsSync(snapshot.zipPath), false)
  })

  it('.amlignore takes precedence over .gitignore in the same directory; ignore files themselves are uploaded', async () => {
    const { root, tempDir } = tree({
      '.gitignore': 'data/\n*.py\n',
      '.amlignore': '*.log\n',
      'train.py': 'x',
      'data/a.csv': 'a',
      'run.log': 'l',
      'sub/.gitignore': '*.csv\n',
      'sub/b.csv': 'b',
      'sub/c.py': 'c'
    })
    const snapshot = await snapshotOf(root, tempDir)
    assert.deepEqual(zipEntries(snapshot.zipPath), ['.amlignore', '.gitignore', 'data/a.csv', 'sub/.gitignore', 'sub/c.py', 'train.py'])
  })

  it('applies nested ignore files relative to their directory, deeper ones overriding shallower ones', async () => {
    const { root, tempDir } = tree({
      '.amlignore': '*.log\n/outputs/\ncache/\n',
      'a.log': '',
      'outputs/model.pkl': 'm',
      'keep/.gitignore': '!*.log\n/local-only.txt\n',
      'keep/important.log': 'i',
      'keep/local-only.txt': 'x',
      'keep/deeper/.amlignore': '*.log\n',
      'keep/deeper/.gitignore': '!*.log\n', // not used: .amlignore wins in this directory
      'keep/deeper/noise.log': 'n',
      'keep/deeper/local-only.txt': 'kept: /local-only.txt is anchored to keep/',
      'keep/outputs/x.txt': 'kept: /outputs/ is anchored to the root',
      'nested/cache/blob': 'excluded at any depth',
      'nested/cache-not/blob': 'kept'
    })
    const logger = new MemoryLogger(true)
    const plan = await planSnapshot(root, logger)
    assert.deepEqual(plan.ignoreFiles, ['.amlignore', 'keep/.gitignore', 'keep/deeper/.amlignore'])
    const snapshot = await snapshotOf(root, tempDir)
    assert.deepEqual(zipEntries(snapshot.zipPath), [
      '.amlignore',
      'keep/.gitignore',
      'keep/deeper/.amlignore',
      'keep/deeper/.gitignore',
      'keep/deeper/local-only.txt',
      'keep/important.log',
      'keep/outputs/x.txt',
      'nested/cache-not/blob'
    ])
    assert.match(logger.text(), /debug: Snapshot ignore files applied: \.amlignore, keep\/\.gitignore, keep\/deeper\/\.amlignore/)
  })

  it('cannot re-include a file whose parent directory is excluded; an ignore file inside an excluded directory is not read', async () => {
    const { root, tempDir } = tree({
      '.gitignore': 'build/\n!build/keep.txt\nvendor/*\n!vendor/keep.txt\n',
      'build/keep.txt': 'k',
      'build/.gitignore': '!*\n',
      'vendor/keep.txt': 'k',
      'vendor/drop.txt': 'd',
      'main.py': 'm'
    })
    const snapshot = await snapshotOf(root, tempDir)
    assert.deepEqual(zipEntries(snapshot.zipPath), ['.gitignore', 'main.py', 'vendor/keep.txt'])
  })

  it('never includes .git (directory or file), even when an ignore file re-includes it', async () => {
    const { root, tempDir } = tree({
      '.gitignore': '!.git\n!.git/\n',
      '.git/config': '[core]',
      '.git/objects/ab/cdef': 'blob',
      'sub/.git': 'gitdir: ../.git/modules/sub',
      'sub/x.py': 'x',
      '.github/workflows/ci.yml': 'on: push'
    })
    const snapshot = await snapshotOf(root, tempDir)
    assert.deepEqual(zipEntries(snapshot.zipPath), ['.github/workflows/ci.yml', '.gitignore', 'sub/x.py'])
  })

  it('builds the same zip for the same tree, in sorted order whatever the creation order', async () => {
    const names = ['b.py', 'A.py', 'a/z.py', 'a.py', 'a-b/c.py', 'Z/y.py', '_x.py', 'a/b/c.py']
    const files = Object.fromEntries(names.map(n => [n, n]))
    const { root, tempDir } = tree(files)
    const first = await snapshotOf(root, tempDir)
    const second = await snapshotOf(root, tempDir)
    const expected = ['A.py', 'Z/y.py', '_x.py', 'a-b/c.py', 'a.py', 'a/b/c.py', 'a/z.py', 'b.py']
    assert.deepEqual(zipEntries(first.zipPath), expected)
    assert.notEqual(first.zipPath, second.zipPath)
    const hash = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex')
    assert.equal(hash(first.zipPath), hash(second.zipPath))
  })

  it('follows symbolic links that stay inside the source directory and skips the others with a warning', async () => {
    const { root, tempDir } = tree({ 'lib/real.py': 'REAL = 1\n', 'data/shared.txt': 'shared', 'train.py': 't' })
    const outside = path.join(path.dirname(root), 'secret.txt')
    writeFileSync(outside, 'do not upload')
    symlinkSync('lib/real.py', path.join(root, 'alias.py'))
    symlinkSync('data', path.join(root, 'data-link'))
    symlinkSync(outside, path.join(root, 'secret-link.txt'))
    symlinkSync('/etc', path.join(root, 'etc-link'))
    symlinkSync('does-not-exist', path.join(root, 'broken.txt'))
    symlinkSync('..', path.join(root, 'lib', 'up')) // a cycle: lib/up → root
    const logger = new MemoryLogger()
    const snapshot = await snapshotOf(root, tempDir, logger)

    assert.deepEqual(zipEntries(snapshot.zipPath), ['alias.py', 'data-link/shared.txt', 'data/shared.txt', 'lib/real.py', 'train.py'])
    assert.equal(zipContent(snapshot.zipPath, 'alias.py').toString(), 'REAL = 1\n')
    assert.equal(zipContent(snapshot.zipPath, 'data-link/shared.txt').toString(), 'shared')

    const text = logger.text()
    assert.ok(text.includes(`warning: Not following symbolic link secret-link.txt → ${outside}: it points outside the source directory.`), text)
    assert.match(text, /warning: Not following symbolic link etc-link → \/etc: it points outside the source directory/)
    assert.match(text, /warning: Not following symbolic link broken\.txt → does-not-exist: its target does not exist/)
    assert.match(text, /warning: Not following symbolic link lib\/up → .*: it points to one of its own parent directories/)

    const plan = await planSnapshot(root, new MemoryLogger())
    assert.deepEqual(plan.skipped.map(s => s.path), ['broken.txt', 'etc-link', 'lib/up', 'secret-link.txt'])
    assert.match(plan.skipped.find(s => s.path === 'secret-link.txt')!.reason, /outside the source directory/)
  })

  it('skips FIFOs and sockets with a reason instead of reading them (and does not hang)', { timeout: 20_000 }, async () => {
    const { root, tempDir } = tree({ 'train.py': 't' })
    execFileSync('mkfifo', [path.join(root, 'pipe')])
    const server = net.createServer()
    await new Promise<void>(resolve => server.listen(path.join(root, 'app.sock'), resolve))
    after(() => server.close())
    symlinkSync('pipe', path.join(root, 'pipe-link'))
    const logger = new MemoryLogger()
    const snapshot = await snapshotOf(root, tempDir, logger)
    assert.deepEqual(zipEntries(snapshot.zipPath), ['train.py'])
    const plan = await planSnapshot(root, new MemoryLogger())
    assert.deepEqual(plan.skipped, [
      { path: 'app.sock', reason: 'not a regular file (socket)' },
      { path: 'pipe', reason: 'not a regular file (FIFO)' },
      { path: 'pipe-link', reason: 'symbolic link to a FIFO, not a regular file' }
    ])
    assert.match(logger.text(), /warning: Skipping pipe: it is a FIFO, not a regular file\./)
  })

  it('does not descend into an excluded directory', async () => {
    const { root, tempDir } = tree({ '.amlignore': 'node_modules/\n', 'index.py': 'i', 'node_modules/pkg/index.js': 'x' })
    // Anything the walker would notice inside node_modules: an escaping link, a FIFO, an unreadable directory.
    symlinkSync('/etc/passwd', path.join(root, 'node_modules', 'escape'))
    execFileSync('mkfifo', [path.join(root, 'node_modules', 'pipe')])
    mkdirSync(path.join(root, 'node_modules', 'locked'))
    chmodSync(path.join(root, 'node_modules', 'locked'), 0)
    after(() => chmodSync(path.join(root, 'node_modules', 'locked'), 0o755))
    const logger = new MemoryLogger()
    const snapshot = await snapshotOf(root, tempDir, logger)
    assert.deepEqual(zipEntries(snapshot.zipPath), ['.amlignore', 'index.py'])
    assert.doesNotMatch(logger.text(), /warning/)
  })

  it('fails on an unreadable file, naming it and the OS error', { skip: isRoot ? 'root can read any file' : false }, async () => {
    const { root, tempDir } = tree({ 'train.py': 't', 'conf/secret.env': 'x' })
    chmodSync(path.join(root, 'conf/secret.env'), 0)
    after(() => chmodSync(path.join(root, 'conf/secret.env'), 0o644))
    const error = await rejection(createSnapshot(root, new MemoryLogger(), { tempDir }))
    assert.match(error.message, /Cannot read 'conf\/secret\.env'.*EACCES/)
    assert.match(error.hint ?? '', /permissions.*\.amlignore/)
    assert.deepEqual(readdirSync(tempDir), [], 'no zip is left behind')
  })

  it('fails on an unreadable directory, naming it and the OS error', { skip: isRoot ? 'root can read any directory' : false }, async () => {
    const { root, tempDir } = tree({ 'train.py': 't', 'locked/x': 'x' })
    chmodSync(path.join(root, 'locked'), 0)
    after(() => chmodSync(path.join(root, 'locked'), 0o755))
    const error = await rejection(createSnapshot(root, new MemoryLogger(), { tempDir }))
    assert.match(error.message, /Cannot read 'locked'.*EACCES/)
  })

  it('checks the file-count limit before zipping, listing the largest files and the directories with the most files', async () => {
    const files: Record<string, string> = { 'train.py': 'x'.repeat(3000), 'big.csv': 'y'.repeat(5000) }
    for (let i = 0; i < 12; i++) files[`.venv/lib/site-packages/m${i}.py`] = 'z'.repeat(10 + i)
    for (let i = 0; i < 3; i++) files[`src/s${i}.py`] = 's'
    const { root, tempDir } = tree(files)
    const error = await rejection(createSnapshot(root, new MemoryLogger(), { tempDir, limits: { maxFiles: 10, maxBytes: 1024 * 1024 } }))
    assert.match(error.message, /17 files \(the limit is 10 files\)/)
    const lines = error.message.split('\n')
    const largest = lines.slice(lines.indexOf('Largest files:') + 1, lines.indexOf('Largest files:') + 11).map(l => l.trim())
    assert.deepEqual(largest.slice(0, 3), ['4.9 KB  big.csv', '2.9 KB  train.py', '21 B  .venv/lib/site-packages/m11.py'])
    assert.equal(largest.length, 10)
    assert.match(error.message, /Directories with the most files:\n\s+12 files {2}\.venv\/ /)
    assert.doesNotMatch(error.message, /\.venv\/lib\/ /, 'a directory whose files all come from one child is collapsed')
    assert.match(error.hint ?? '', /\.amlignore in the source directory/)
    assert.match(error.hint ?? '', /instead of \.gitignore/)
    assert.match(error.hint ?? '', /For example:\n {2}\/\.venv\/$/)
    assert.deepEqual(readdirSync(tempDir), [], 'nothing was zipped')
  })

  it('checks the size limit before zipping, with a ready-to-paste pattern for the largest file', async () => {
    const { root, tempDir } = tree({ 'train.py': 'p', 'data/model.ckpt': Buffer.alloc(6000), 'data/small.bin': Buffer.alloc(500) })
    const error = await rejection(createSnapshot(root, new MemoryLogger(), { tempDir, limits: { maxFiles: 100, maxBytes: 4096 } }))
    assert.match(error.message, /too large for an Azure ML snapshot: 6\.3 KB \(the limit is 4 KB\) in 3 files\./)
    assert.match(error.message, /Largest files:\n\s+5\.9 KB {2}data\/model\.ckpt\n\s+500 B {2}data\/small\.bin\n\s+1 B {2}train\.py/)
    assert.match(error.hint ?? '', /For example:\n {2}\/data\/model\.ckpt$/)
    assert.deepEqual(readdirSync(tempDir), [])
  })

  it('the real limits are Azure ML\'s: 2000 files', async () => {
    const files: Record<string, string> = {}
    for (let i = 0; i < 2001; i++) files[`f/${String(i).padStart(4, '0')}.txt`] = ''
    const { root } = tree(files)
    const error = await rejection(planSnapshot(root, new MemoryLogger()))
    assert.match(error.message, /2,001 files \(the limit is 2,000 files\)/)
    delete files['f/2000.txt']
    rmSync(path.join(root, 'f/2000.txt'))
    assert.equal((await planSnapshot(root, new MemoryLogger())).files.length, 2000)
  })

  it('fails when there is nothing to upload', async () => {
    const empty = tree({})
    const error = await rejection(createSnapshot(empty.root, new MemoryLogger(), { tempDir: empty.tempDir }))
    assert.match(error.message, /Nothing to upload.*it is empty/)

    const allIgnored = tree({ '.amlignore': '*\n', 'a.py': 'a' })
    const error2 = await rejection(createSnapshot(allIgnored.root, new MemoryLogger(), { tempDir: allIgnored.tempDir }))
    assert.match(error2.message, /Nothing to upload.*all 2 entries in it are excluded by \.amlignore/)
  })

  it('fails clearly when the source directory does not exist or is a file', async () => {
    const { root } = tree({ 'train.py': 't' })
    const missing = await rejection(planSnapshot(path.join(root, 'nope'), new MemoryLogger()))
    assert.match(missing.message, /source directory '.*nope' does not exist/)
    const file = await rejection(planSnapshot(path.join(root, 'train.py'), new MemoryLogger()))
    assert.match(file.message, /is not a directory/)
  })
})

function formatKb(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1).replace(/\.0$/, '')} KB`
}
