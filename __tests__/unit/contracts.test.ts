/**
 * The OpenAPI contracts the suite validates against live in the repository (a checkout without anything
 * beside it, as on GitHub's runners, must pass) and are the unedited files SOURCES.md says they are.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { CONTRACTS_DIR, loadContract } from '../helpers/contract.js'

const root = path.resolve(import.meta.dirname, '../..')
const sources = readFileSync(path.join(CONTRACTS_DIR, 'SOURCES.md'), 'utf8')
/** `sha256  file` lines of the fenced block in SOURCES.md. */
const recorded = new Map([...sources.matchAll(/^([0-9a-f]{64}) {2}(\S+)$/gm)].map(m => [m[2], m[1]]))
const stored = readdirSync(CONTRACTS_DIR, { recursive: true, encoding: 'utf8' })
  .filter(f => f.endsWith('.json'))
  .map(f => f.split(path.sep).join('/'))
  .sort()

describe('API contracts', () => {
  it('are inside the repository', () => {
    assert.ok(path.relative(root, CONTRACTS_DIR).split(path.sep)[0] !== '..', `${CONTRACTS_DIR} is outside ${root}`)
    assert.equal(loadContract('arm-2019-11-01/machineLearningServices.json').swagger, '2.0')
  })

  it('are exactly the files SOURCES.md lists, byte for byte', () => {
    assert.ok(recorded.size >= 6, 'SOURCES.md lists the hashes')
    assert.deepEqual(stored, [...recorded.keys()].sort())
    for (const [file, sha] of recorded) {
      assert.equal(createHash('sha256').update(readFileSync(path.join(CONTRACTS_DIR, file))).digest('hex'), sha, `${file} is unedited`)
    }
  })
})
