/**
 * Models through the bundled action: register-model, train with model-name and register-if (champion,
 * lower-is-better), delete-model, wait-run / cancel-run — against the local Azure ML service.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { errorText, runAgainst, tempWorkspace } from '../helpers/e2e.js'
import { dataPlaneUrl, getToken } from '../helpers/emulator-client.js'

let emulator: Emulator
before(async () => {
  emulator = await startEmulator({ port: 0, runPhaseDelayMs: 50 })
})
after(() => emulator.close())

/** GET on model management, with plain fetch (not the action's clients). */
async function modelManagement(path: string, init: { method?: string; body?: unknown } = {}): Promise<any> {
  const res = await fetch(dataPlaneUrl(emulator, 'modelmanagement/v1.0', path), {
    method: init.method ?? 'GET',
    headers: { Authorization: `Bearer ${await getToken(emulator)}`, ...(init.body ? { 'Content-Type': 'application/json' } : {}) },
    body: init.body ? JSON.stringify(init.body) : undefined
  })
  assert.equal(res.status, 200, `${init.method ?? 'GET'} ${path}: ${res.status}`)
  return res.json()
}

/** The last numeric value of each metric the run logged, as the service stores them. */
function lastLogged(runId: string): Record<string, number> {
  const last: Record<string, number> = {}
  for (const record of emulator.getRun(runId)?.metrics ?? []) {
    for (const cell of record.cells) {
      const value = cell[record.name]
      if (typeof value === 'number') last[record.name] = value
    }
  }
  return last
}

/** Trains examples/ (fast: few epochs) and returns the run id. */
async function trainExamples(experiment: string, extra: Record<string, string> = {}) {
  const run = await runAgainst(emulator, {
    'experiment-name': experiment,
    'source-directory': 'examples',
    script: 'train.py',
    'compute-target': 'cpu-cluster',
    ...extra
  })
  assert.equal(run.code, 0, run.stdout + run.stderr)
  return run
}

describe('models (bundled action, local Azure ML service)', { concurrency: 3 }, () => {
  it('register-model registers a run output as a new version, with the run metrics kept on it', async () => {
    const trained = await trainExamples('e2e-register', { arguments: '--epochs\n5' })
    const runId = trained.outputs['run-id']
    const first = await runAgainst(emulator, {
      operation: 'register-model',
      'run-id': runId,
      'model-name': 'e2e-clf',
      'model-path': 'outputs/model.json',
      'model-tags': 'stage=dev\nowner = ml team',
      'model-framework': 'custom',
      'model-description': 'Churn classifier, 5 epochs'
    })
    assert.equal(first.code, 0, first.stdout)
    assert.deepEqual(
      [first.outputs['model-id'], first.outputs['model-name'], first.outputs['model-version'], first.outputs['model-registered']],
      ['e2e-clf:1', 'e2e-clf', '1', 'true']
    )
    // The model as the service keeps it: the run's metrics (last value of each), tags, framework, description.
    const model = await modelManagement('/models/e2e-clf:1')
    const logged = lastLogged(runId)
    assert.deepEqual(Object.keys(logged).sort(), ['accuracy', 'learning_rate', 'loss'])
    assert.deepEqual(model.properties, Object.fromEntries(Object.entries(logged).map(([name, value]) => [`metric.${name}`, String(value)])))
    assert.deepEqual(model.kvTags, { stage: 'dev', owner: 'ml team' })
    assert.deepEqual([model.framework, model.description, model.runId, model.experimentName], ['Custom', 'Churn classifier, 5 epochs', runId, 'e2e-register'])
    // Registered the SDK's way (reference §7): an asset on the run's artifact prefix, the model pointing at it.
    const assetId = /^aml:\/\/asset\/([0-9a-zA-Z-]+)$/.exec(model.url)?.[1]
    assert.ok(assetId, `the model url is aml://asset/<id>: ${model.url}`)
    const asset = await modelManagement(`/assets/${assetId}`)
    const run = emulator.getRun(runId)
    assert.deepEqual(asset.artifacts, [{ prefix: `ExperimentRun/dcid.${runId}/outputs/model.json` }])
    assert.equal(run?.artifacts.includes('outputs/model.json'), true)
    assert.deepEqual([asset.name, asset.runid], ['e2e-clf', runId])

    const second = await runAgainst(emulator, { operation: 'register-model', 'run-id': runId, 'experiment-name': 'e2e-register', 'model-name': 'e2e-clf', 'model-path': 'outputs' })
    assert.equal(second.outputs['model-id'], 'e2e-clf:2', 'versions increment per name; a folder works too')
    const folder = await modelManagement(`/assets/${/[^/]+$/.exec((await modelManagement('/models/e2e-clf:2')).url)?.[0]}`)
    assert.deepEqual(folder.artifacts, [{ prefix: `ExperimentRun/dcid.${runId}/outputs` }])
    const listed = await runAgainst(emulator, { operation: 'list', resource: 'models', 'model-name': 'e2e-clf' })
    const models = JSON.parse(listed.outputs.result) as { id: string; runId: string; framework: string }[]
    assert.deepEqual(models.map(m => m.id).sort(), ['e2e-clf:1', 'e2e-clf:2'])
    assert.ok(models.every(m => m.runId === runId))
  })

  it('a champion registered outside the action (no recorded metrics) lets the gate pass, with a warning', async () => {
    const trained = await trainExamples('e2e-outside', { arguments: '--epochs\n3' })
    const runId = trained.outputs['run-id']
    // Registered by hand (portal, CLI, SDK): no metric.* properties on it.
    const asset = await modelManagement('/assets', { method: 'POST', body: { name: 'e2e-outside', artifacts: [{ prefix: `ExperimentRun/dcid.${runId}/outputs/model.json` }], runid: runId } })
    await modelManagement('/models', { method: 'POST', body: { name: 'e2e-outside', url: `aml://asset/${asset.id}`, mimeType: 'application/json', runId } })
    const gated = await trainExamples('e2e-outside', { arguments: '--epochs\n3', 'model-name': 'e2e-outside', 'model-path': 'outputs/model.json', 'register-if': 'loss < champion' })
    assert.match(gated.stdout, /^::warning::register-if: the champion, version 1 of model 'e2e-outside', has no recorded 'loss' metric .*so 'loss < champion' cannot be compared and is treated as holding/m)
    assert.equal(gated.outputs['model-registered'], 'true')
    assert.equal(gated.outputs['model-id'], 'e2e-outside:2')
    // The new champion has the metric: the next run is compared with it, without a warning.
    assert.ok((await modelManagement('/models/e2e-outside:2')).properties['metric.loss'])
    const next = await trainExamples('e2e-outside', { arguments: '--epochs\n2', 'model-name': 'e2e-outside', 'model-path': 'outputs/model.json', 'register-if': 'loss < champion' })
    assert.doesNotMatch(next.stdout, /::warning::register-if/)
    assert.match(next.stdout, /register-if: loss [\d.]+ < champion [\d.]+ \(version 2\): does not hold/)
  })

  it('register-model with a path the run did not produce lists what it did produce', async () => {
    const trained = await trainExamples('e2e-register-missing', { arguments: '--epochs\n2' })
    const run = await runAgainst(emulator, { operation: 'register-model', 'run-id': trained.outputs['run-id'], 'model-name': 'nope', 'model-path': 'outputs/model.pkl' })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /'outputs\/model\.pkl' is not among the outputs of run .*\n {2}outputs\/model\.json/)
  })

  it('register-model for a run that does not exist fails with a 404 and a hint', async () => {
    const run = await runAgainst(emulator, { operation: 'register-model', 'run-id': 'e2e-ghost_1700000000000_deadbeef', 'model-name': 'm', 'model-path': 'outputs/model.json' })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /reading run 'e2e-ghost_1700000000000_deadbeef' of experiment 'e2e-ghost': HTTP 404/)
    assert.match(errorText(run), /Hint: Check `run-id` and `experiment-name`/)
  })

  it('train with register-if registers only while the gate holds, comparing loss (lower is better) with the champion', async () => {
    const name = 'e2e-gated'
    const gate = 'accuracy >= 0.5\nloss < champion'
    // No version yet: "champion" holds.
    const first = await trainExamples('e2e-gated', { arguments: '--epochs\n6', 'model-name': name, 'model-path': 'outputs/model.json', 'register-if': gate })
    assert.equal(first.outputs['model-registered'], 'true')
    assert.equal(first.outputs['model-id'], `${name}:1`)
    assert.match(first.summary, /no version registered yet/)
    // Fewer epochs: a higher loss than the champion's → not registered, and the step still succeeds.
    const worse = await trainExamples('e2e-gated', { arguments: '--epochs\n3', 'model-name': name, 'model-path': 'outputs/model.json', 'register-if': gate })
    assert.equal(worse.outputs['model-registered'], 'false')
    assert.equal(worse.outputs['model-id'], undefined)
    assert.match(worse.stdout, /register-if: loss [\d.]+ < champion [\d.]+ \(version 1\): does not hold/)
    assert.match(worse.summary, /Not registered/)
    // More epochs: a lower loss → registered as version 2.
    const better = await trainExamples('e2e-gated', { arguments: '--epochs\n15', 'model-name': name, 'model-path': 'outputs/model.json', 'register-if': gate })
    assert.equal(better.outputs['model-registered'], 'true')
    assert.equal(better.outputs['model-id'], `${name}:2`)
  })

  it('a gate on a metric the run never logged does not register (a typo must not pass silently)', async () => {
    const run = await trainExamples('e2e-typo', { arguments: '--epochs\n2', 'model-name': 'e2e-typo', 'model-path': 'outputs/model.json', 'register-if': 'acuracy > 0.5' })
    assert.equal(run.outputs['model-registered'], 'false')
    assert.match(run.stdout, /logged no numeric metric 'acuracy' \(it logged: .*accuracy/)
  })

  it('delete-model deletes a version; deleting it again succeeds with a notice', async () => {
    const trained = await trainExamples('e2e-delete', { arguments: '--epochs\n2', 'model-name': 'e2e-doomed', 'model-path': 'outputs/model.json' })
    assert.equal(trained.outputs['model-id'], 'e2e-doomed:1')
    const deleted = await runAgainst(emulator, { operation: 'delete-model', 'model-id': 'e2e-doomed:1' })
    assert.equal(deleted.code, 0, deleted.stdout)
    assert.match(deleted.stdout, /Deleted model e2e-doomed:1/)
    const again = await runAgainst(emulator, { operation: 'delete-model', 'model-id': 'e2e-doomed:1' })
    assert.equal(again.code, 0)
    assert.match(again.stdout, /::notice::Model e2e-doomed:1 does not exist/)
    const listed = await runAgainst(emulator, { operation: 'list', resource: 'models', 'model-name': 'e2e-doomed' })
    assert.equal(listed.outputs.result, '[]')
  })

  it('detach with wait: false, then wait-run in a later job resumes: log, metrics, registration', async () => {
    const ws = tempWorkspace({
      'train.py': 'import os, time\nfrom azureml.core import Run\nrun = Run.get_context()\ntime.sleep(2)\nprint("resumed log line")\nrun.log("score", 0.8)\nos.makedirs("outputs", exist_ok=True)\nopen("outputs/m.txt", "w").write("m")\n'
    })
    try {
      const started = await runAgainst(emulator, { 'experiment-name': 'e2e-detach', script: 'train.py', 'compute-target': 'cpu-cluster', wait: 'false' }, { workspace: ws.root })
      assert.equal(started.code, 0, started.stdout)
      const runId = started.outputs['run-id']
      assert.deepEqual(started.state, {}, 'a detached run is not cancelled by the post step')
      // experiment-name is read off the run id
      const resumed = await runAgainst(emulator, { operation: 'wait-run', 'run-id': runId, 'model-name': 'e2e-resumed', 'model-path': 'outputs/m.txt', 'register-if': 'score > 0.5' }, { workspace: ws.root })
      assert.equal(resumed.code, 0, resumed.stdout)
      assert.equal(resumed.outputs['run-id'], runId)
      assert.equal(resumed.outputs['run-status'], 'Completed')
      assert.deepEqual(JSON.parse(resumed.outputs.metrics), { score: 0.8 })
      assert.match(resumed.stdout, /resumed log line/)
      assert.equal(resumed.outputs['model-id'], 'e2e-resumed:1')
    } finally {
      ws.cleanup()
    }
  })

  it('cancel-run cancels a running run', async () => {
    const ws = tempWorkspace({ 'train.py': 'import time\ntime.sleep(60)\n' })
    try {
      const started = await runAgainst(emulator, { 'experiment-name': 'e2e-cancelme', script: 'train.py', 'compute-target': 'cpu-cluster', wait: 'false' }, { workspace: ws.root })
      const runId = started.outputs['run-id']
      const cancelled = await runAgainst(emulator, { operation: 'cancel-run', 'run-id': runId, 'experiment-name': 'e2e-cancelme' })
      assert.equal(cancelled.code, 0, cancelled.stdout)
      assert.match(cancelled.outputs['run-status'], /^(CancelRequested|Canceled)$/)
      assert.ok(emulator.requests.some(r => r.method === 'POST' && r.path.endsWith(`/runId/${runId}/cancel`)))
      const again = await runAgainst(emulator, { operation: 'wait-run', 'run-id': runId, 'experiment-name': 'e2e-cancelme' })
      assert.equal(again.outputs['run-status'], 'Canceled')
      assert.equal(again.code, 1, 'waiting for a cancelled run fails the step')
    } finally {
      ws.cleanup()
    }
  })

  it('wait-run for an unknown run fails with a 404', async () => {
    const run = await runAgainst(emulator, { operation: 'wait-run', 'run-id': 'nope_1700000000000_00000000' })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /HTTP 404 .*Run nope_1700000000000_00000000 was not found/)
  })
})
