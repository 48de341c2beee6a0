import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { InputError } from '../../src/errors.js'
import { existingDirectory, outputDirectory } from '../../src/input-values.js'
import { isWithin } from '../../src/paths.js'

describe('inside or outside a folder', () => {
  it('only a whole `..` segment leads out; a name starting with two dots is inside', () => {
    const root = path.resolve('/work/repo')
    const table: Array<[string, boolean]> = [
      ['/work/repo', true],
      ['/work/repo/train', true],
      ['/work/repo/..data', true],
      ['/work/repo/a/../b', true],
      ['/work/repo/..', false],
      ['/work/other', false],
      ['/work/repo-2', false],
      ['/etc', false]
    ]
    for (const [candidate, inside] of table) assert.equal(isWithin(root, path.resolve(candidate)), inside, candidate)
  })

  it('source-directory and classic-output-directory may be folders named ..something, never above the workspace', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'paths-'))
    try {
      mkdirSync(path.join(root, '..data'))
      assert.equal(existingDirectory('source-directory', '..data', root), path.join(root, '..data'))
      assert.equal(outputDirectory('classic-output-directory', '..out', root), path.join(root, '..out'))
      assert.throws(() => existingDirectory('source-directory', '..', root), (e: unknown) => e instanceof InputError && /outside the workspace/.test(e.message))
      assert.throws(() => outputDirectory('classic-output-directory', '../out', root), (e: unknown) => e instanceof InputError && e.input === 'classic-output-directory')
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
