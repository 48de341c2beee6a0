/**
 * `train` through the bundled action (node dist/index.js, as the runner runs it) against the local Azure ML
 * service: outputs, job summary, driver log, failures and their messages.
 */
import assert from 'node:assert/strict'
import { cpSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { PROJECT_ROOT } from '../../scripts/action-runner.js'
import { errorText, runAgainst, tempWorkspace } from '../helpers/e2e.js'

let emulator: Emulator
before(async () => {
  // The seed's definition.json targets a cluster named cpu-compute: the workspace has it too.
  emulator = await startEmulator({ port: 0, runPhaseDelayMs: 50, computes: ['cpu-cluster', 'cpu-compute'] })
})
after(() => emulator.close())

describe('train (bundled action, local Azure ML service)', { concurrency: 4 }, () => {
  it("runs the REST how-to's own definition.json and hello.py verbatim", async () => {
    const ws = tempWorkspace({})
    cpSync(path.join(PROJECT_ROOT, '__tests__/fixtures/seed'), path.join(ws.root, 'train'), { recursive: true })
    try {
      const run = await runAgainst(emulator, { 'experiment-name': 'seed-hello', 'run-definition-file': 'train/definition.json' }, { workspace: ws.root })
      assert.equal(run.code, 0, run.stdout)
      assert.match(run.stdout, /^Hello, REST!$/m, 'the driver log is streamed into the step log')
      assert.equal(run.outputs['run-status'], 'Completed')
      const azureRun = emulator.getRun(run.outputs['run-id'])
      assert.ok(azureRun, 'the run exists in the workspace')
      assert.equal(azureRun.target, 'cpu-compute')
      assert.deepEqual(azureRun.metrics, [])
      assert.equal(run.outputs.metrics, '{}')
    } finally {
      ws.cleanup()
    }
  })

  it('trains examples/ and exports run id, status, link, metrics and a job summary', async () => {
    const run = await runAgainst(emulator, {
      'experiment-name': 'e2e-examples',
      'source-directory': 'examples',
      script: 'train.py',
      arguments: '--epochs\n12',
      'compute-target': 'cpu-cluster',
      'run-tags': 'team=vision\nstage = ci'
    })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    const runId = run.outputs['run-id']
    assert.match(runId, /^e2e-examples_\d+_[0-9a-f]{8}$/)
    assert.equal(run.outputs['run-status'], 'Completed')
    assert.match(run.outputs['run-url'], new RegExp(`^${emulator.url}/studio/runs/${runId}\\?wsid=/subscriptions/`))
    const metrics = JSON.parse(run.outputs.metrics)
    assert.equal(metrics.loss.length, 12, 'a metric logged per epoch is an array')
    assert.equal(typeof metrics.accuracy, 'number', 'a metric logged once is a value')
    assert.ok(metrics.loss[11] < metrics.loss[0], 'the loss went down')
    assert.match(run.stdout, /epoch {2}12 {2}loss/)
    assert.match(run.summary, /Completed/)
    assert.match(run.summary, /\| accuracy \| 0\.\d+ \|/)
    assert.match(run.summary, /\| loss \| [\d.]+ \(last of 12;/)
    const azureRun = emulator.getRun(runId)!
    assert.deepEqual(azureRun.artifacts.filter(a => a.startsWith('outputs/')), ['outputs/model.json'])
    assert.equal(azureRun.tags.team, 'vision')
    assert.equal(azureRun.tags.stage, 'ci')
    assert.equal(azureRun.tags['github.repository'], 'octo-org/ml-repo')
    assert.equal(azureRun.tags['github.sha'], '0123456789abcdef0123456789abcdef01234567')
    assert.equal(azureRun.tags['github.run_url'], 'https://github.com/octo-org/ml-repo/actions/runs/4242/attempts/1')
    // run-id is written as soon as the run is started, before the run ends
    assert.ok(run.outputFile.indexOf('run-id<<') < run.outputFile.indexOf('run-status<<'))
  })

  it('a failing script fails the step with the error and the last lines of the log', async () => {
    const ws = tempWorkspace({ 'train.py': 'print("loading data")\nprint("about to divide")\nx = 1 / 0\n' })
    try {
      const run = await runAgainst(emulator, { 'experiment-name': 'e2e-fail', script: 'train.py', 'compute-target': 'cpu-cluster' }, { workspace: ws.root })
      assert.equal(run.code, 1)
      assert.equal(run.errors.length, 1, 'one ::error::')
      assert.match(errorText(run), /ended Failed: User program failed with ZeroDivisionError: division by zero/)
      assert.match(errorText(run), /Last lines of the driver log:\n[\s\S]*about to divide[\s\S]*ZeroDivisionError/)
      assert.equal(run.outputs['run-status'], 'Failed')
      assert.ok(run.outputs['run-id'])
      assert.match(run.summary, /❌ Failed/)
    } finally {
      ws.cleanup()
    }
  })

  it('honours .amlignore: ignored files are not uploaded', async () => {
    const ws = tempWorkspace({
      'src/train.py': 'import os\nfor root, dirs, files in sorted(os.walk(".")):\n    for f in sorted(files): print("FILE", os.path.join(root, f))\n',
      'src/.amlignore': 'data/\n*.ckpt\n!keep.ckpt\n',
      'src/.gitignore': 'notes.txt\n',
      'src/notes.txt': 'uploaded: .amlignore replaces .gitignore',
      'src/data/big.csv': 'a,b\n',
      'src/old.ckpt': 'x',
      'src/keep.ckpt': 'x',
      'src/.git/config': '[core]'
    })
    try {
      const run = await runAgainst(emulator, { 'experiment-name': 'e2e-ignore', 'source-directory': 'src', script: 'train.py', 'compute-target': 'cpu-cluster' }, { workspace: ws.root })
      assert.equal(run.code, 0, run.stdout)
      const listed = [...run.stdout.matchAll(/^FILE \.\/(.+)$/gm)].map(m => m[1]).filter(f => !f.startsWith('outputs/'))
      assert.deepEqual(listed.sort(), ['.amlignore', '.gitignore', 'keep.ckpt', 'notes.txt', 'train.py'])
      assert.match(run.stdout, /Snapshot: 5 files/)
    } finally {
      ws.cleanup()
    }
  })

  it('stops before uploading when the snapshot is over Azure ML\'s file limit', async () => {
    const files: Record<string, string> = { 'train.py': 'print(1)' }
    for (let i = 0; i < 2000; i++) files[`data/part-${String(i).padStart(4, '0')}.csv`] = 'x'
    const ws = tempWorkspace(files)
    try {
      const run = await runAgainst(emulator, { 'experiment-name': 'e2e-limit', script: 'train.py', 'compute-target': 'cpu-cluster' }, { workspace: ws.root })
      assert.equal(run.code, 1)
      assert.match(errorText(run), /2,001 files \(the limit is 2,000 files\)/)
      assert.match(errorText(run), /For example:\n  \/data\//)
      assert.match(errorText(run), /\.amlignore/)
      assert.equal(run.outputs['run-id'], undefined, 'no run was started')
    } finally {
      ws.cleanup()
    }
  })

  it('neutralises workflow commands and escape sequences printed by the script', async () => {
    const ws = tempWorkspace({
      'train.py': [
        'print("::set-output name=run-status::Hacked")',
        'print("::add-mask::Completed")',
        'print("::error::not from the action")',
        'print("\\x1b[31mred\\x1b[0m and \\x1b]8;;https://evil.example\\x07link\\x1b]8;;\\x07")'
      ].join('\n')
    })
    try {
      const run = await runAgainst(emulator, { 'experiment-name': 'e2e-commands', script: 'train.py', 'compute-target': 'cpu-cluster' }, { workspace: ws.root })
      assert.equal(run.code, 0, run.stdout)
      assert.equal(run.outputs['run-status'], 'Completed')
      assert.deepEqual(run.errors, [])
      const stop = /^::stop-commands::([0-9a-f]+)$/m.exec(run.stdout)
      assert.ok(stop, 'the driver log is printed inside stop-commands')
      const block = run.stdout.slice(stop.index, run.stdout.indexOf(`::${stop[1]}::`))
      assert.match(block, /::set-output name=run-status::Hacked/)
      assert.match(run.stdout, /^red and link$/m)
      assert.ok(!run.stdout.includes('\u001b'), 'no escape character reaches the log')
    } finally {
      ws.cleanup()
    }
  })

  it('wait: false returns right after the start with the run id', async () => {
    const ws = tempWorkspace({ 'train.py': 'import time\ntime.sleep(3)\nprint("done")' })
    try {
      const run = await runAgainst(emulator, { 'experiment-name': 'e2e-nowait', script: 'train.py', 'compute-target': 'cpu-cluster', wait: 'false' }, { workspace: ws.root })
      assert.equal(run.code, 0, run.stdout)
      const runId = run.outputs['run-id']
      assert.ok(runId)
      assert.notEqual(run.outputs['run-status'], 'Completed')
      assert.equal(run.outputs.metrics, undefined)
      assert.match(run.stdout, new RegExp(`operation: wait-run and run-id: ${runId}`))
      assert.notEqual(emulator.getRun(runId)?.status, 'Completed', 'the run was still going when the action returned')
    } finally {
      ws.cleanup()
    }
  })

  it('wait: false with model-name says the model is registered by the later wait-run step', async () => {
    const ws = tempWorkspace({ 'train.py': 'import time\ntime.sleep(2)\n' })
    try {
      const run = await runAgainst(
        emulator,
        { 'experiment-name': 'e2e-nowait-model', script: 'train.py', 'compute-target': 'cpu-cluster', wait: 'false', 'model-name': 'e2e-later', 'model-path': 'outputs/model.json', 'register-if': 'accuracy >= 0.5' },
        { workspace: ws.root }
      )
      assert.equal(run.code, 0, run.stdout)
      const runId = run.outputs['run-id']
      assert.match(run.stdout, new RegExp(`^::notice::Model 'e2e-later' is not registered by this step \\(wait: false: the run has not finished\\)\\. The wait-run step that waits for run ${runId} registers it: give that step model-name and register-if\\.$`, 'm'))
      assert.equal(run.outputs['model-registered'], undefined)
      assert.ok(!run.requests.some(r => /\/models/.test(r.path)), 'nothing was sent to the model registry')
    } finally {
      ws.cleanup()
    }
  })

  it('timeout-minutes cancels the run and fails the step', async () => {
    const ws = tempWorkspace({ 'train.py': 'import time\nprint("sleeping")\ntime.sleep(60)\n' })
    try {
      const run = await runAgainst(emulator, { 'experiment-name': 'e2e-timeout', script: 'train.py', 'compute-target': 'cpu-cluster', 'timeout-minutes': '0.05' }, { workspace: ws.root })
      assert.equal(run.code, 1)
      const runId = run.outputs['run-id']
      assert.match(errorText(run), new RegExp(`Run ${runId} did not finish within timeout-minutes and was cancelled \\(status Canceled\\)`))
      assert.equal(run.outputs['run-status'], 'Canceled')
      assert.equal(emulator.getRun(runId)?.status, 'Canceled')
      // A slow machine may get to the timeout before the script starts: then there is no process to stop.
      const training = emulator.getRun(runId)?.process
      if (/^sleeping$/m.test(run.stdout)) assert.equal(training?.running, false, 'the training process was stopped')
      else assert.equal(training, undefined, 'the run was cancelled before its script started')
      assert.ok(emulator.requests.some(r => r.method === 'POST' && r.path.endsWith(`/runId/${runId}/cancel`)), 'the cancel endpoint was called')
    } finally {
      ws.cleanup()
    }
  })

  it('an unknown compute target fails the run, with a hint; so does startrun refusing it', async () => {
    const inputs = { 'experiment-name': 'e2e-nocompute', 'source-directory': 'examples', script: 'train.py', 'compute-target': 'gpu-cluster' }
    const run = await runAgainst(emulator, inputs)
    assert.equal(run.code, 1)
    assert.equal(run.outputs['run-status'], 'Failed')
    assert.match(errorText(run), /ended Failed: AzureMLCompute cluster gpu-cluster does not exist/)
    assert.match(errorText(run), /Hint: The compute target does not exist in the workspace: .*create-compute/)
    // Azure may also refuse the submission itself, in its other wording (Azure/AML-Kubernetes#118).
    const refusal = JSON.stringify({ error: { code: 'UserError', message: "Unknown compute target 'gpu-cluster'." }, correlation: { operation: 'op-1', request: 'req-1' } })
    const id = emulator.faults.add({ method: 'POST', path: '/experiments/e2e-nocompute/startrun$', kind: 'status', status: 400, body: refusal, times: 1 })
    try {
      const refused = await runAgainst(emulator, inputs)
      assert.equal(refused.code, 1)
      assert.match(errorText(refused), /HTTP 400 UserError: Unknown compute target 'gpu-cluster'\./)
      assert.match(errorText(refused), /Hint: The compute target does not exist in the workspace: .*create-compute/)
    } finally {
      emulator.faults.remove(id)
    }
  })

  it('reads a camelCase run definition and lets inputs override it', async () => {
    const ws = tempWorkspace({
      'code/run.json': JSON.stringify({ configuration: { script: 'wrong.py', arguments: ['a'], target: 'cpu-cluster' } }),
      'code/main.py': 'import sys\nprint("ARGS", sys.argv[1:])\n'
    })
    try {
      const run = await runAgainst(emulator, { 'experiment-name': 'e2e-camel', 'run-definition-file': 'code/run.json', script: 'main.py', arguments: 'x\ny z' }, { workspace: ws.root })
      assert.equal(run.code, 0, run.stdout)
      assert.match(run.stdout, /ARGS \['x', 'y z'\]/)
    } finally {
      ws.cleanup()
    }
  })

  it('a wrong client secret fails with the Azure AD error and a hint, never the secret', async () => {
    const creds = JSON.parse(emulator.credentialsJson())
    const run = await runAgainst(emulator, {
      'azure-credentials': JSON.stringify({ ...creds, clientSecret: 'Wr0ng~Secret.Value-123' }),
      'experiment-name': 'e2e-badsecret',
      'source-directory': 'examples',
      script: 'train.py',
      'compute-target': 'cpu-cluster'
    })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /getting an Azure AD token .*: HTTP 401 invalid_client \(AADSTS7000215\): Invalid client secret provided/)
    assert.match(errorText(run), /Hint: The client secret is wrong/)
    const shown = run.stdout.split('\n').filter(l => !l.startsWith('::add-mask::'))
    assert.ok(!shown.join('\n').includes('Wr0ng~Secret.Value-123'), 'the secret is only ever handed to ::add-mask::')
    assert.ok(run.stdout.includes('::add-mask::Wr0ng~Secret.Value-123'), 'the secret is masked')
  })

  it('a principal without a role on the workspace gets the role hint', async () => {
    const creds = JSON.parse(emulator.credentialsJson())
    const run = await runAgainst(emulator, {
      'azure-credentials': JSON.stringify({ ...creds, clientId: emulator.identity.noRole.clientId, clientSecret: emulator.identity.noRole.clientSecret }),
      'experiment-name': 'e2e-norole',
      'source-directory': 'examples',
      script: 'train.py',
      'compute-target': 'cpu-cluster'
    })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /reading workspace 'local-ws' .*: HTTP 403 AuthorizationFailed: .*\(x-ms-request-id: [0-9a-f-]{36}\)/)
    assert.match(errorText(run), /Hint: .*AzureML Data Scientist/)
  })

  it('an unknown workspace gets a 404 with a hint naming the inputs', async () => {
    const run = await runAgainst(emulator, { 'workspace-name': 'no-such-ws', 'experiment-name': 'e2e-nows', 'source-directory': 'examples', script: 'train.py', 'compute-target': 'cpu-cluster' })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /HTTP 404 ResourceNotFound: .*no-such-ws/)
    assert.match(errorText(run), /Hint: Check `workspace-name`, `resource-group` and `subscription-id`/)
  })
})

