import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { lastNumber, metricsFromRunMetrics } from '../../src/azureml/metrics.js'
import type { RunMetric } from '../../src/azureml/types.js'
import { ActionError } from '../../src/errors.js'
import { train } from '../../src/operations/train.js'
import { tempWorkspace } from '../helpers/e2e.js'
import { testContext, trainSettings } from '../helpers/in-process.js'

function scalar(name: string, value: unknown, at: number): RunMetric {
  return {
    name,
    metricType: 'azureml.v1.scalar',
    createdUtc: new Date(Date.UTC(2026, 0, 1, 0, 0, at)).toISOString(),
    cells: [{ [name]: value }],
    schema: { numProperties: 1, properties: [{ propertyId: name, name, type: 'float' }] }
  }
}

describe('metrics output (Azure ML SDK convention)', () => {
  it('a metric logged once is its value; logged several times, the values in logging order', () => {
    const metrics = metricsFromRunMetrics([scalar('loss', 0.5, 2), scalar('accuracy', 0.9, 5), scalar('loss', 0.7, 1), scalar('loss', 0.3, 3)])
    assert.deepEqual(metrics, { loss: [0.7, 0.5, 0.3], accuracy: 0.9 })
  })

  it('orders by time, not by text: .NET trims the fraction (…37.15Z, …37.153Z, …38Z)', () => {
    // As text these sort 2, 1, 4, 3 ('3' < 'Z', '.' < 'Z').
    const at = (time: string, value: number): RunMetric => ({ ...scalar('loss', value, 0), createdUtc: `2026-01-01T00:00:${time}` })
    const logged = [at('38.5Z', 4), at('37.15Z', 1), at('38Z', 3), at('37.153Z', 2)]
    assert.deepEqual(metricsFromRunMetrics(logged), { loss: [1, 2, 3, 4] })
    // Seven fraction digits (.NET ticks), an offset instead of Z, and no zone at all (the field is UTC).
    const ticks = [at('37.1530002Z', 3), at('37.1530001Z', 2), at('37.153+00:00', 1), at('36.9', 0)]
    assert.deepEqual(metricsFromRunMetrics(ticks), { loss: [0, 1, 2, 3] })
  })

  it('metrics logged at the same instant keep the order the service listed them in', () => {
    const same = [5, 1, 4, 2, 3].map(v => ({ ...scalar('step', v, 0), createdUtc: '2026-01-01T00:00:01.000000Z' }))
    assert.deepEqual(metricsFromRunMetrics([scalar('step', 0, 0), ...same]), { step: [0, 5, 1, 4, 2, 3] })
  })

  it('a list logged once stays a list; strings and booleans pass through', () => {
    const list: RunMetric = {
      name: 'curve',
      metricType: 'azureml.v1.list',
      createdUtc: '2026-01-01T00:00:00Z',
      cells: [{ curve: 1 }, { curve: 2 }],
      schema: { properties: [{ name: 'curve' }] }
    }
    const one: RunMetric = { ...list, name: 'single', createdUtc: '2026-01-01T00:00:01Z', cells: [{ single: 4 }], schema: { properties: [{ name: 'single' }] } }
    assert.deepEqual(metricsFromRunMetrics([list, one, scalar('tag', 'best', 2), scalar('ok', true, 3)]), { curve: [1, 2], single: [4], tag: 'best', ok: true })
  })

  it('a table (log_row) becomes columns of values', () => {
    const row = (epoch: number, acc: number, at: number): RunMetric => ({
      name: 'per_epoch',
      metricType: 'azureml.v1.table',
      createdUtc: `2026-01-01T00:00:0${at}Z`,
      cells: [{ epoch, acc }],
      schema: { properties: [{ name: 'epoch' }, { name: 'acc' }] }
    })
    assert.deepEqual(metricsFromRunMetrics([row(1, 0.5, 1), row(2, 0.6, 2)]), { per_epoch: { epoch: [1, 2], acc: [0.5, 0.6] } })
  })

  it('lastNumber reads gates and summaries from series', () => {
    assert.equal(lastNumber([0.9, 0.4]), 0.4)
    assert.equal(lastNumber(3), 3)
    assert.equal(lastNumber('2.5'), 2.5)
    assert.equal(lastNumber('high'), undefined)
    assert.equal(lastNumber([]), undefined)
  })
})

describe('metrics of an unexpected shape (train in-process, local Azure ML service)', { concurrency: true }, () => {
  const emulators: Emulator[] = []
  const ws = tempWorkspace({ 'train.py': 'print("training")\n' })
  after(async () => {
    await Promise.all(emulators.map(e => e.close()))
    ws.cleanup()
  })

  const shapes = [
    { body: '{"value":[null,1]}', problem: /metric 1 of the list is null, not a metric/ },
    { body: '{"value":[{"name":"loss","cells":5}]}', problem: /metric 1 of the list has 'cells' that are number 5, not a list of objects/ },
    { body: '{"value":[{"name":"loss","cells":[{"loss":1}]},{"name":7}]}', problem: /metric 2 of the list has a 'name' that is number 7, not a string/ },
    { body: '{"value":[{"name":"t","schema":{"properties":"epoch"}}]}', problem: /metric 1 of the list has a 'schema' without a list of properties/ }
  ]
  for (const { body, problem } of shapes) {
    it(`${body} is a clear error with status and request id, not a TypeError`, async () => {
      const emulator = await startEmulator({ port: 0, runPhaseDelayMs: 10 })
      emulators.push(emulator)
      emulator.faults.add({ method: 'GET', path: '/experiments/[^/]+/metrics$', kind: 'status', status: 200, body, times: 1 })
      const settings = trainSettings(emulator, ws.root, { 'experiment-name': 'shapes', script: 'train.py' })
      const error = await train(settings, testContext()).then(
        () => assert.fail('expected train to fail'),
        (e: unknown) => e
      )
      assert.ok(error instanceof ActionError, `expected a message for the user, got ${(error as Error)?.stack}`)
      assert.match(error.message, /^reading the metrics of run '[^']+': HTTP 200 but /)
      assert.match(error.message, problem)
      assert.match(error.message, /\(x-ms-request-id: [0-9a-f-]{36}\)$/)
    })
  }
})
