/**
 * Cancellation through the bundled action, as the runner does it: SIGINT / SIGTERM to `node dist/index.js`
 * while it waits or while it starts, SIGKILL followed by the `post:` step (`node dist/post/index.js` with
 * the main step's saved state), and `cancel-on-timeout: false`. What matters is what is left running in
 * Azure ML afterwards. Each test has its own local Azure ML service.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import type { Emulator } from '../../emulator/index.js'
import { emulatorsFor, errorText, eventually, runAgainst, runAndSignal as signalled, tempWorkspace } from '../helpers/e2e.js'
import { listRuns } from '../helpers/in-process.js'

let ws: { root: string; cleanup(): void }
before(() => {
  ws = tempWorkspace({
    'train.py': 'import sys, time\nprint("training", flush=True)\ntime.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)\nprint("done")\n'
  })
})
const emulators = emulatorsFor({ runPhaseDelayMs: 50 })
after(async () => {
  await emulators.closeAll()
  ws.cleanup()
})
const service = (): Promise<Emulator> => emulators.start()

const TRAIN = { 'experiment-name': 'cancel', script: 'train.py', 'compute-target': 'cpu-cluster' }
const POST = 'dist/post/index.js'
type Request = Emulator['requests'][number]
const isStart = (r: Request) => r.method === 'POST' && r.path.endsWith('/startrun')
const isCancel = (r: Request) => r.method === 'POST' && r.path.endsWith('/cancel')

/** Runs the action and sends `signal` once `when` sees the line it waits for. */
const runAndSignal = (emulator: Emulator, inputs: Record<string, string>, signal: NodeJS.Signals, when: (line: string) => boolean) =>
  signalled(emulator, inputs, signal, when, { workspace: ws.root })

/** Waits until the run has stopped in the service: status Canceled and no process of it running (if it had one). */
async function stoppedInAzure(emulator: Emulator, runId: string): Promise<void> {
  await eventually(`run ${runId} to be Canceled`, () => {
    const run = emulator.getRun(runId)
    return run?.status === 'Canceled' && run.process?.running !== true
  })
}

describe('cancellation (bundled action)', { concurrency: true }, () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} while waiting cancels the Azure ML run and fails the step with a message`, async () => {
      const emulator = await service()
      const run = await runAndSignal(emulator, { ...TRAIN, arguments: '60' }, signal, line => line === 'training')
      const runId = run.outputs['run-id']
      assert.ok(runId)
      assert.equal(run.signal, null, 'the action handled the signal and exited on its own')
      assert.equal(run.code, 1)
      assert.match(run.stdout, new RegExp(`^Received ${signal}: the workflow is being cancelled\\.$`, 'm'))
      assert.equal(run.errors.length, 1)
      assert.match(errorText(run), new RegExp(`^The workflow was cancelled; run ${runId} was asked to cancel`))
      assert.equal(run.requests.filter(isCancel).length, 1)
      assert.ok(run.requests.find(isCancel)!.path.endsWith(`/runId/${runId}/cancel`))
      await stoppedInAzure(emulator, runId)
      assert.equal(emulator.getRun(runId)?.process?.running, false, 'the training process is gone')
      assert.doesNotMatch(run.stdout, /^done$/m, 'the script did not get to finish')
      assert.equal(run.state['azureml-run-to-cancel'], '', 'nothing is left for the post step')
    })
  }

  it('a signal while signing in and finding the workspace: nothing is started, and the step says so', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'GET', path: '/workspaces/local-ws$', kind: 'delay', delayMs: 2000, times: 1 })
    let child: ChildProcess | undefined
    const signalled = eventually('the workspace request', () => emulator.requests.some(r => r.fault === 'delay')).then(() => child?.kill('SIGINT'))
    const run = await runAgainst(emulator, { ...TRAIN, arguments: '60' }, {
      workspace: ws.root,
      onStart: c => {
        child = c
      }
    })
    await signalled
    assert.equal(run.code, 1)
    assert.equal(run.errors.length, 1)
    assert.match(errorText(run), /^The workflow was cancelled before the run was started; nothing was started in Azure ML\.$/)
    assert.equal(run.outputs['run-id'], undefined)
    assert.ok(!run.requests.some(isStart), 'no start was sent')
    assert.deepEqual(await listRuns(emulator, 'cancel'), [], 'no run exists')
  })

  it('a signal while the start is on its way: the run that got started is cancelled, nothing is left running', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'POST', path: '/startrun$', kind: 'delay', delayMs: 1000, times: 1 })
    let child: ChildProcess | undefined
    const signalled = eventually('the start request', () => emulator.requests.some(r => isStart(r) && r.fault === 'delay')).then(() => child?.kill('SIGTERM'))
    const run = await runAgainst(emulator, { ...TRAIN, arguments: '60' }, {
      workspace: ws.root,
      onStart: c => {
        child = c
      }
    })
    await signalled
    assert.equal(run.code, 1)
    const runs = await listRuns(emulator, 'cancel')
    assert.equal(runs.length, 1, 'the start went through')
    const runId = runs[0].runId
    assert.equal(run.outputs['run-id'], runId)
    assert.match(errorText(run), new RegExp(`The workflow was cancelled; run ${runId} was asked to cancel`))
    await stoppedInAzure(emulator, runId)
  })

  it('the post step cancels a run the main step left running when it was killed', async () => {
    const emulator = await service()
    const main = await runAndSignal(emulator, { ...TRAIN, arguments: '60' }, 'SIGKILL', line => line === 'training')
    assert.equal(main.signal, 'SIGKILL')
    const runId = main.outputs['run-id']
    assert.ok(runId)
    assert.notEqual(emulator.getRun(runId)?.status, 'Canceled', 'still running after the main step died')
    assert.equal(JSON.parse(main.state['azureml-run-to-cancel']).runId, runId, 'the main step saved the run for the post step')

    const post = await runAgainst(emulator, {}, { workspace: ws.root, entry: POST, stateFile: main.stateFile })
    assert.equal(post.code, 0, post.stdout)
    assert.match(post.stdout, new RegExp(`^Cancelled run ${runId} \\(it was \\w+\\): the step that started it stopped before it ended\\.$`, 'm'))
    assert.deepEqual(post.requests.filter(isCancel).map(r => r.path.endsWith(`/runId/${runId}/cancel`)), [true])
    await stoppedInAzure(emulator, runId)
    assert.equal(emulator.getRun(runId)?.process?.running, false, 'the training process is gone')
  })

  it('a tag request that hangs does not keep the run going: SIGINT, then SIGKILL as the runner does, then the post step', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'PATCH', path: '/history/v1\\.0/.*/runs/[^/]+$', kind: 'hang', times: 1 })
    let child: ChildProcess | undefined
    let exited = false
    // The runner: SIGINT, a grace period (7.5 s on GitHub, shorter here), then SIGKILL if the step is still there.
    const runner = eventually('the tag request', () => emulator.requests.some(r => r.method === 'PATCH' && r.fault === 'hang')).then(async () => {
      child!.kill('SIGINT')
      await new Promise(resolve => setTimeout(resolve, 3000))
      if (!exited) child!.kill('SIGKILL')
    })
    const main = await runAgainst(emulator, { ...TRAIN, arguments: '60' }, {
      workspace: ws.root,
      onStart: c => {
        child = c
        c.on('exit', () => {
          exited = true
        })
      }
    })
    await runner
    const runId = new URLSearchParams(main.requests.find(isStart)!.query).get('runId')!
    const post = await runAgainst(emulator, {}, { workspace: ws.root, entry: POST, stateFile: main.stateFile })
    assert.equal(post.code, 0, post.stdout)
    await stoppedInAzure(emulator, runId)
    assert.equal(main.signal, null, 'the step ended on its own after SIGINT, before the SIGKILL')
    assert.equal(main.code, 1)
    assert.match(errorText(main), new RegExp(`^The workflow was cancelled; run ${runId} was asked to cancel`))
  })

  it('a step killed while tagging the run: the post step cancels the run (saved before the start was sent)', async () => {
    const emulator = await service()
    emulator.faults.add({ method: 'PATCH', path: '/history/v1\\.0/.*/runs/[^/]+$', kind: 'hang', times: 1 })
    let child: ChildProcess | undefined
    const killed = eventually('the tag request', () => emulator.requests.some(r => r.method === 'PATCH' && r.fault === 'hang')).then(() => child!.kill('SIGKILL'))
    const main = await runAgainst(emulator, { ...TRAIN, arguments: '60' }, {
      workspace: ws.root,
      onStart: c => {
        child = c
      }
    })
    await killed
    assert.equal(main.signal, 'SIGKILL')
    const runId = new URLSearchParams(main.requests.find(isStart)!.query).get('runId')!
    assert.deepEqual(JSON.parse(main.state['azureml-run-to-cancel']), { experiment: 'cancel', runId })
    const post = await runAgainst(emulator, {}, { workspace: ws.root, entry: POST, stateFile: main.stateFile })
    assert.equal(post.code, 0, post.stdout)
    assert.match(post.stdout, new RegExp(`^Cancelled run ${runId} \\(it was \\w+\\): the step that started it stopped before it ended\\.$`, 'm'))
    await stoppedInAzure(emulator, runId)
  })

  it('a second signal ends a step stuck sending the start; the post step finds the run never started', async () => {
    const emulator = await service()
    // The start never reaches the service, and no answer comes.
    emulator.faults.add({ method: 'POST', path: '/startrun$', kind: 'hang', times: 1 })
    let child: ChildProcess | undefined
    let terminatedAt = 0
    const signalled = eventually('the start request', () => emulator.requests.some(r => isStart(r) && r.fault === 'hang')).then(async () => {
      child!.kill('SIGINT')
      await new Promise(resolve => setTimeout(resolve, 500))
      terminatedAt = Date.now()
      child!.kill('SIGTERM')
    })
    const main = await runAgainst(emulator, { ...TRAIN, arguments: '60' }, {
      workspace: ws.root,
      timeoutMs: 30_000,
      onStart: c => {
        child = c
      }
    })
    await signalled
    assert.equal(main.signal, null, 'the step ended on its own')
    assert.equal(main.code, 1)
    assert.ok(Date.now() - terminatedAt < 5000, `ended ${Date.now() - terminatedAt} ms after SIGTERM`)
    assert.match(errorText(main), /^The workflow was cancelled; the step stopped at SIGTERM before it had finished\.$/)
    const runId = new URLSearchParams(main.requests.find(isStart)!.query).get('runId')!
    assert.equal(JSON.parse(main.state['azureml-run-to-cancel']).runId, runId, 'the run was saved for the post step before the start was sent')

    const post = await runAgainst(emulator, {}, { workspace: ws.root, entry: POST, stateFile: main.stateFile })
    assert.equal(post.code, 0, post.stdout)
    assert.match(post.stdout, new RegExp(`^::notice::Run ${runId} was never started \\(Azure ML does not know it\\); nothing to cancel\\.$`, 'm'))
    assert.doesNotMatch(post.stdout, /^::warning::/m)
    assert.ok(!post.requests.some(isCancel))
    assert.deepEqual(await listRuns(emulator, 'cancel'), [])
  })

  it('a step that fails on its own while waiting leaves the run running: the post step does not cancel it', async () => {
    const emulator = await service()
    // Once the script runs, one status read is refused (an error that does not pass): the step fails.
    let refused = false
    const main = await runAgainst(emulator, { ...TRAIN, arguments: '5' }, {
      workspace: ws.root,
      onStdoutLine: line => {
        if (refused || line !== 'training') return
        refused = true
        emulator.faults.add({ method: 'GET', path: '/history/v1\\.0/.*/runs/[^/]+$', kind: 'status', status: 403, times: 1 })
      }
    })
    assert.ok(refused, main.stdout)
    const runId = main.outputs['run-id']
    assert.equal(main.code, 1)
    assert.match(errorText(main), /^reading run '.*': HTTP 403/)
    assert.match(main.stdout, new RegExp(`^Run ${runId} is left running in Azure ML: this step stopped following it\\.$`, 'm'))
    assert.equal(main.state['azureml-run-to-cancel'], '', 'nothing is left for the post step')

    const post = await runAgainst(emulator, {}, { workspace: ws.root, entry: POST, stateFile: main.stateFile })
    assert.equal(post.code, 0)
    assert.deepEqual(post.requests, [], 'the post step sent nothing')
    await eventually('the run to complete', () => emulator.getRun(runId)?.status === 'Completed')
  })

  it('the post step leaves alone a run that ended meanwhile', async () => {
    const emulator = await service()
    const main = await runAndSignal(emulator, { ...TRAIN, arguments: '1' }, 'SIGKILL', line => line === 'training')
    const runId = main.outputs['run-id']
    await eventually('the run to complete', () => emulator.getRun(runId)?.status === 'Completed')
    const post = await runAgainst(emulator, {}, { workspace: ws.root, entry: POST, stateFile: main.stateFile })
    assert.equal(post.code, 0)
    assert.match(post.stdout, new RegExp(`Run ${runId} has ended \\(Completed\\); nothing to cancel\\.`))
    assert.ok(!post.requests.some(isCancel))
    assert.equal(emulator.getRun(runId)?.status, 'Completed')
  })

  it('the post step does nothing after a main step that finished', async () => {
    const emulator = await service()
    const main = await runAgainst(emulator, TRAIN, { workspace: ws.root })
    assert.equal(main.code, 0, main.stdout)
    const post = await runAgainst(emulator, {}, { workspace: ws.root, entry: POST, stateFile: main.stateFile })
    assert.equal(post.code, 0)
    assert.deepEqual(post.requests, [], 'not a single request')
    assert.equal(post.stdout.trim(), '')
  })

  it('cancel-on-timeout: false leaves the run running, the error says so, and the post step leaves it alone', async () => {
    const emulator = await service()
    const main = await runAgainst(emulator, { ...TRAIN, arguments: '60', 'timeout-minutes': '0.05', 'cancel-on-timeout': 'false' }, { workspace: ws.root })
    const runId = main.outputs['run-id']
    assert.equal(main.code, 1)
    assert.equal(main.errors.length, 1)
    // Still Queued, Preparing or Running, depending on how fast the service got going.
    const still = new RegExp(`^Run ${runId} did not finish within timeout-minutes; it is still (\\w+) \\(.*\\)\\.\\nHint: It goes on in Azure ML \\(cancel-on-timeout: false\\)\\. Resume waiting with operation: wait-run and run-id: ${runId}\\.$`).exec(errorText(main))
    assert.ok(still, errorText(main))
    assert.equal(main.outputs['run-status'], still[1])
    assert.ok(!['Completed', 'Failed', 'Canceled', 'CancelRequested'].includes(still[1]), still[1])
    assert.ok(!main.requests.some(isCancel))
    await eventually('the run to go on running', () => emulator.getRun(runId)?.process?.running)
    assert.equal(emulator.getRun(runId)?.status, 'Running')

    const post = await runAgainst(emulator, {}, { workspace: ws.root, entry: POST, stateFile: main.stateFile })
    assert.equal(post.code, 0)
    assert.deepEqual(post.requests, [])
    assert.equal(emulator.getRun(runId)?.status, 'Running')
  })
})
