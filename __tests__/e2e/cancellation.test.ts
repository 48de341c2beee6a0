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
