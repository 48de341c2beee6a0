/**
 * Snapshot safety beyond snapshot.test.ts: no zip entry can climb out of the folder it is unpacked into,
 * whatever the file names and links; and an unreadable file fails the snapshot even when the tests run as
 * root (then the snapshot is made by an unprivileged child process, as on a runner).
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { MemoryLogger } from '../../src/logger.js'
import { createSnapshot } from '../../src/snapshot/snapshot.js'

const scratch = mkdtempSync(path.join(os.tmpdir(), 'snapshot-safety-'))
after(() => rmSync(scratch, { recursive: true, force: true }))
const isRoot = process.getuid?.() === 0
const NOBODY = 65534

function zipEntries(zipPath: string): string[] {
  return execFileSync('unzip', ['-Z1', zipPath], { encoding: 'utf8' }).split('\n').filter(Boolean)
}

describe('snapshot safety', () => {
  it('no entry is absolute, has a backslash or a ".." segment, whatever the names and links in the folder', async () => {
    const base = path.join(scratch, 'names')
    const root = path.join(base, 'src')
    mkdirSync(path.join(root, '..hidden-dir'), { recursive: true })
    mkdirSync(path.join(base, 'tmp'))
    writeFileSync(path.join(base, 'outside.txt'), 'must not be uploaded')
    for (const name of ['train.py', '..foo', '...', 'a..b.txt', '..\\evil.py', 'dir\\file.py', '..hidden-dir/x.py']) writeFileSync(path.join(root, name), name)
    symlinkSync('..', path.join(root, 'up'))
    symlinkSync('../outside.txt', path.join(root, 'out.txt'))
    symlinkSync(path.join(base, 'outside.txt'), path.join(root, 'abs.txt'))
    const logger = new MemoryLogger()
    const snapshot = await createSnapshot(root, logger, { tempDir: path.join(base, 'tmp') })
    after(() => snapshot.dispose())

    const entries = zipEntries(snapshot.zipPath)
    for (const entry of entries) {
      assert.ok(!entry.startsWith('/'), entry)
      assert.ok(!entry.includes('\\'), entry)
      assert.ok(!entry.split('/').includes('..'), entry)
    }
    assert.deepEqual(entries, ['...', '..foo', '..hidden-dir/x.py', 'a..b.txt', 'train.py'])
    const text = logger.text()
    assert.match(text, /warning: Skipping "\.\.\\\\evil\.py": its name contains a backslash/)
    assert.match(text, /warning: Not following symbolic link up → .*: it points outside the source directory/)
    assert.match(text, /warning: Not following symbolic link out\.txt → .*outside\.txt: it points outside the source directory/)

    // Unpacked with Python's zipfile (what the run side uses), everything lands inside the target folder.
    const target = path.join(base, 'unpacked', 'deep')
    mkdirSync(target, { recursive: true })
    execFileSync('python3', ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', snapshot.zipPath, target])
    assert.deepEqual(readdirSync(path.join(base, 'unpacked')), ['deep'], 'nothing was written beside the target')
  })

  it('fails on an unreadable file, naming it and the OS error, when run unprivileged', { skip: isRoot ? false : 'not root: snapshot.test.ts covers it directly' }, () => {
    // Root can read anything: make the snapshot as 'nobody', as a runner's user would.
    const base = path.join(scratch, 'unreadable')
    const root = path.join(base, 'src')
    const tempDir = path.join(base, 'tmp')
    mkdirSync(path.join(root, 'conf'), { recursive: true })
    mkdirSync(tempDir)
    writeFileSync(path.join(root, 'train.py'), 't')
    writeFileSync(path.join(root, 'conf', 'secret.env'), 'x')
    for (const dir of [scratch, base, root, path.join(root, 'conf')]) chmodSync(dir, 0o755)
    chmodSync(path.join(root, 'train.py'), 0o644)
    chmodSync(path.join(root, 'conf', 'secret.env'), 0o600)
    chmodSync(tempDir, 0o777)
    const snapshotModule = fileURLToPath(new URL('../../src/snapshot/snapshot.ts', import.meta.url))
    const loggerModule = fileURLToPath(new URL('../../src/logger.ts', import.meta.url))
    const script = [
      `const { createSnapshot } = await import(${JSON.stringify(snapshotModule)})`,
      `const { MemoryLogger } = await import(${JSON.stringify(loggerModule)})`,
      'try {',
      `  const s = await createSnapshot(${JSON.stringify(root)}, new MemoryLogger(), { tempDir: ${JSON.stringify(tempDir)} })`,
      '  console.log(JSON.stringify({ zip: s.zipPath }))',
      '} catch (e) {',
      '  console.log(JSON.stringify({ name: e.name, message: e.message, hint: e.hint }))',
      '}'
    ].join('\n')
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      uid: NOBODY,
      gid: NOBODY,
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...process.env, HOME: tempDir, TMPDIR: tempDir },
      encoding: 'utf8'
    })
    const line = child.stdout.trim().split('\n').at(-1) ?? ''
    assert.ok(line.startsWith('{'), `the unprivileged child ran: ${child.stdout}${child.stderr}`)
    const result = JSON.parse(line) as { name?: string; message?: string; hint?: string; zip?: string }
    assert.equal(result.zip, undefined, 'no snapshot was made without the file')
    assert.equal(result.name, 'ActionError')
    assert.match(result.message ?? '', /Cannot read 'conf\/secret\.env'.*EACCES/)
    assert.match(result.hint ?? '', /permissions.*\.amlignore/)
    assert.deepEqual(readdirSync(tempDir).filter(f => f.endsWith('.zip')), [], 'no zip is left behind')
  })
})
