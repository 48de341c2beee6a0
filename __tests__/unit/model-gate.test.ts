/**
 * `register-if`: its grammar (every operator, signed and exponent numbers, `champion`), the errors that name
 * the input, and the verdicts — against numbers, against the champion (lower-is-better metrics included),
 * with no champion yet, and with a champion that has no recorded metric.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Model } from '../../src/azureml/models.js'
import { InputError } from '../../src/errors.js'
import { parseSettings } from '../../src/inputs.js'
import { evaluateGate, parseConditions, type Comparison } from '../../src/operations/model-gate.js'

const champion = (properties: Record<string, string>, version = 3): Model => ({ id: `clf:${version}`, name: 'clf', version, properties })

/** Whether `metric <op> target` holds for this value (target a number, or the champion's value). */
function verdict(value: number, op: Comparison, target: number | 'champion', championValue?: number): boolean {
  const [condition] = parseConditions(`m ${op} ${target}`)
  const best = championValue === undefined ? undefined : champion({ 'metric.m': String(championValue) })
  return evaluateGate([condition], { m: value }, best).holds
}

describe('register-if grammar', () => {
  it('reads one condition per line, every operator, with or without spaces', () => {
    const conditions = parseConditions('accuracy >= 0.9\n\n  loss<champion  \r\nf1 > .5\nerrors <= 3\nauc==1\nval_loss < -1.5e-3\nlr > +2E4')
    assert.deepEqual(
      conditions.map(c => [c.metric, c.op, c.target]),
      [
        ['accuracy', '>=', 0.9],
        ['loss', '<', 'champion'],
        ['f1', '>', 0.5],
        ['errors', '<=', 3],
        ['auc', '==', 1],
        ['val_loss', '<', -0.0015],
        ['lr', '>', 20000]
      ]
    )
    assert.equal(conditions[1].text, 'loss<champion')
  })

  it('keeps metric names with spaces, dots and slashes', () => {
    assert.deepEqual(
      parseConditions('val accuracy > 0.5\ntrain/loss < champion\nmetrics.f1 >= 1e-2').map(c => c.metric),
      ['val accuracy', 'train/loss', 'metrics.f1']
    )
  })

  it('an empty gate is no condition', () => {
    assert.deepEqual(parseConditions(' \n\n'), [])
  })

  for (const [line, why] of [
    ['accuracy >> 0.9', 'a doubled operator'],
    ['accuracy => 0.9', 'an operator written backwards'],
    ['accuracy = 0.9', 'a single ='],
    ['accuracy != 0.9', 'an operator that does not exist'],
    ['accuracy > champion2', 'a misspelt champion'],
    ['accuracy > Champion', 'champion in capitals'],
    ['accuracy > 0.9 0.8', 'two numbers'],
    ['accuracy > 1e', 'an exponent without digits'],
    ['accuracy > 90%', 'a percentage'],
    ['> 0.9', 'no metric'],
    ['accuracy 0.9', 'no operator'],
    ['accuracy >', 'no target']
  ]) {
    it(`refuses ${why}: '${line}', naming register-if and the grammar`, () => {
      assert.throws(
        () => parseConditions(`loss < champion\n${line}`),
        (e: unknown) =>
          e instanceof InputError &&
          e.input === 'register-if' &&
          e.message.startsWith(`Input 'register-if': '${line}' is not a condition`) &&
          e.message.includes('<metric> <op> <number> or <metric> <op> champion, with op one of >, >=, <, <=, ==')
      )
    })
  }

  it('register-if without model-name is refused by the inputs, naming register-if', () => {
    const inputs: Record<string, string> = {
      'tenant-id': '11111111-1111-4111-8111-111111111111',
      'client-id': '22222222-2222-4222-8222-222222222222',
      'client-secret': 's3cret',
      'subscription-id': '33333333-3333-4333-8333-333333333333',
      'resource-group': 'rg',
      'workspace-name': 'ws1',
      'experiment-name': 'exp',
      'source-directory': '.',
      script: 'model-gate.test.ts',
      'register-if': 'accuracy > 0.9'
    }
    for (const operation of ['train', 'wait-run']) {
      const read = (name: string) => ({ ...inputs, operation, 'run-id': 'exp_1700000000000_abc' })[name] ?? ''
      assert.throws(
        () => parseSettings(read, { workspaceRoot: import.meta.dirname, mask: () => undefined }),
        (e: unknown) => e instanceof InputError && e.input === 'register-if' && /needs `model-name`/.test(e.message),
        operation
      )
    }
  })
})

describe('register-if verdicts', () => {
  const cases: Array<[number, Comparison, number, boolean]> = [
    [0.91, '>', 0.9, true],
    [0.9, '>', 0.9, false],
    [0.9, '>=', 0.9, true],
    [0.89, '>=', 0.9, false],
    [0.1, '<', 0.2, true],
    [0.2, '<', 0.2, false],
    [0.2, '<=', 0.2, true],
    [0.21, '<=', 0.2, false],
    [3, '==', 3, true],
    [3.0001, '==', 3, false],
    [-2, '<', -1.5, true],
    [-1, '<', -1.5, false],
    [1e-4, '<', 1e-3, true],
    [2e-3, '<', 1e-3, false]
  ]
  for (const [value, op, target, holds] of cases) {
    it(`${value} ${op} ${target} ${holds ? 'holds' : 'does not hold'}, against a number and against a champion with that value`, () => {
      assert.equal(verdict(value, op, target), holds)
      assert.equal(verdict(value, op, 'champion', target), holds)
    })
  }

  it('every condition must hold; each says what it compared', () => {
    const conditions = parseConditions('accuracy >= 0.85\nloss < champion')
    const better = evaluateGate(conditions, { accuracy: 0.9, loss: [0.5, 0.3, 0.2] }, champion({ 'metric.loss': '0.25' }))
    assert.equal(better.holds, true)
    assert.deepEqual(better.reasons, ['accuracy 0.9 >= 0.85: holds', 'loss 0.2 < champion 0.25 (version 3): holds'], 'a series counts by its last value')
    assert.deepEqual(better.warnings, [])
    const worse = evaluateGate(conditions, { accuracy: 0.9, loss: 0.3 }, champion({ 'metric.loss': '0.25' }))
    assert.equal(worse.holds, false)
    assert.equal(worse.reasons[1], 'loss 0.3 < champion 0.25 (version 3): does not hold')
    const inaccurate = evaluateGate(conditions, { accuracy: 0.8, loss: 0.1 }, champion({ 'metric.loss': '0.25' }))
    assert.equal(inaccurate.holds, false)
  })

  it('with no version registered yet, a champion condition holds (and says why)', () => {
    const gate = evaluateGate(parseConditions('loss < champion'), { loss: 9 }, undefined)
    assert.equal(gate.holds, true)
    assert.match(gate.reasons[0], /no version registered yet, so there is no champion — holds/)
    assert.deepEqual(gate.warnings, [])
  })

  it('a metric the run did not log fails its condition, listing what it logged', () => {
    const gate = evaluateGate(parseConditions('acuracy > 0.5'), { accuracy: 0.9, loss: 0.1 }, undefined)
    assert.equal(gate.holds, false)
    assert.match(gate.reasons[0], /logged no numeric metric 'acuracy' \(it logged: accuracy, loss\) — does not hold/)
  })

  it('a champion without the recorded metric (registered outside the action) holds with a warning that says so', () => {
    const conditions = parseConditions('loss < champion\naccuracy > champion')
    const gate = evaluateGate(conditions, { loss: 0.9, accuracy: 0.1 }, champion({ 'metric.accuracy': '0.5', framework: 'sklearn' }, 7))
    // accuracy can be compared (and fails); loss cannot.
    assert.equal(gate.holds, false)
    assert.match(gate.reasons[0], /the champion \(version 7\) has no recorded 'loss' metric — treated as holding/)
    assert.deepEqual(gate.warnings.length, 1)
    assert.match(gate.warnings[0], /^register-if: the champion, version 7 of model 'clf', has no recorded 'loss' metric \(no property metric\.loss: .*outside this action\), so 'loss < champion' cannot be compared and is treated as holding/)

    const bare = evaluateGate(parseConditions('loss < champion'), { loss: 0.9 }, { id: 'clf:1', name: 'clf', version: 1 })
    assert.equal(bare.holds, true)
    assert.equal(bare.warnings.length, 1)
    const garbled = evaluateGate(parseConditions('loss < champion'), { loss: 0.9 }, champion({ 'metric.loss': 'n/a' }))
    assert.equal(garbled.holds, true)
    assert.equal(garbled.warnings.length, 1, 'a stored value that is not a number is no metric either')
  })
})
