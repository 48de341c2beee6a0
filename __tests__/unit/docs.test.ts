/** The README documents exactly the inputs and outputs action.yml declares, and action.yml is well formed. */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { parse } from 'yaml'
import { OPERATIONS } from '../../src/inputs.js'
import { Outputs } from '../../src/constants.js'

const root = path.resolve(import.meta.dirname, '../..')
const action = parse(readFileSync(path.join(root, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { description: string; default?: string }>
  outputs: Record<string, { description: string }>
  runs: { using: string; main: string; post?: string }
}
const readme = readFileSync(path.join(root, 'README.md'), 'utf8')

/** Names in the first column of the table under a `## heading`. */
function tableNames(heading: string): string[] {
  const section = readme.split(/^## /m).find(s => s.startsWith(`${heading}\n`))
  assert.ok(section, `README has a "## ${heading}" section`)
  return section
    .split('\n')
    .filter(line => line.startsWith('| `'))
    .flatMap(line => [...line.split('|')[1].matchAll(/`([a-z-]+)`/g)].map(m => m[1]))
}

describe('README and action.yml', () => {
  it('document the same inputs', () => {
    assert.deepEqual(tableNames('Inputs').sort(), Object.keys(action.inputs).sort())
  })

  it('document the same outputs, which are the ones the code sets', () => {
    assert.deepEqual(tableNames('Outputs').sort(), Object.keys(action.outputs).sort())
    assert.deepEqual(Object.values(Outputs).sort(), Object.keys(action.outputs).sort())
  })

  it('action.yml lists every operation and runs on node24 from dist/', () => {
    for (const op of OPERATIONS) assert.match(action.inputs.operation.description, new RegExp(`\\b${op}\\b`))
    assert.equal(action.runs.using, 'node24')
    assert.equal(action.runs.main, 'dist/index.js')
    assert.equal(action.runs.post, 'dist/post/index.js')
    for (const [name, input] of Object.entries(action.inputs)) assert.ok(input.description.length > 10, `${name} has a description`)
  })
})
