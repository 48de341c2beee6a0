import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { lastNumber, metricsFromRunMetrics } from '../../src/azureml/metrics.js'
import type { RunMetric } from '../../src/azureml/types.js'

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
