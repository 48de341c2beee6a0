import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { applyOverrides, normalizeRunDefinition, validateRunDefinition } from '../../src/azureml/run-definition.js'
import { InputError } from '../../src/errors.js'

const seed = JSON.parse(readFileSync(path.join(import.meta.dirname, '../fixtures/seed/definition.json'), 'utf8'))

describe('run definition', () => {
  it("reads the REST how-to's PascalCase definition.json into the swagger's camelCase", () => {
    const d = normalizeRunDefinition(seed, 'definition.json')
    assert.equal(d.configuration.script, 'hello.py')
    assert.deepEqual(d.configuration.arguments, ['234'])
    assert.equal(d.configuration.target, 'cpu-compute')
    assert.equal(d.configuration.maxRunDurationSeconds, 1200)
    const python = (d.configuration.environment as Record<string, Record<string, unknown>>).python
    assert.equal(python.interpreterPath, 'python')
    // user data inside condaDependencies keeps its own keys
    assert.deepEqual(python.condaDependencies, { name: 'project_environment', dependencies: ['python=3.6.2', { pip: ['azureml-defaults'] }] })
    assert.deepEqual(d.configuration.history, { outputCollection: true })
    assert.equal(d.configuration.sourceDirectoryDataStore, null)
  })

  it('keeps environment variable names and unknown keys exactly as written', () => {
    const d = normalizeRunDefinition(
      { configuration: { Script: 'a.py', Environment: { EnvironmentVariables: { MY_Var: '1', Path: 'x' } }, CustomThing: { Keep: 1 } } },
      'f.json'
    )
    assert.deepEqual((d.configuration.environment as Record<string, unknown>).environmentVariables, { MY_Var: '1', Path: 'x' })
    assert.deepEqual(d.configuration.CustomThing, { Keep: 1 })
  })

  it('rejects what cannot be a run definition, naming the input', () => {
    for (const [raw, pattern] of [
      [[1, 2], /must hold a JSON object/],
      [{ script: 'a.py' }, /no "Configuration"/],
      [{ Configuration: 'x' }, /must be an object/],
      [{ Configuration: { Script: 'a.py', script: 'b.py' } }, /given twice/]
    ] as const) {
      assert.throws(() => normalizeRunDefinition(raw, 'd.json'), (e: unknown) => e instanceof InputError && e.input === 'run-definition-file' && pattern.test(e.message))
    }
  })

  it('inputs override the file, and build a definition without one', () => {
    const fromFile = applyOverrides(normalizeRunDefinition(seed, 'd.json'), { script: 'train.py', arguments: ['--epochs', '3'], computeTarget: 'gpu' })
    assert.equal(fromFile.configuration.script, 'train.py')
    assert.deepEqual(fromFile.configuration.arguments, ['--epochs', '3'])
    assert.equal(fromFile.configuration.target, 'gpu')
    assert.equal(fromFile.configuration.maxRunDurationSeconds, 1200, 'fields not overridden stay')
    const built = applyOverrides(undefined, { script: 'train.py', computeTarget: 'cpu-cluster' })
    assert.equal(built.configuration.framework, 'Python')
    assert.equal(built.configuration.target, 'cpu-cluster')
  })

  it('validates the script against the snapshot and the target', () => {
    const files = new Set(['train.py', 'src/util.py'])
    const ok = validateRunDefinition(applyOverrides(undefined, { script: './train.py', computeTarget: 'c' }), files, '/w/train')
    assert.equal(ok.configuration.script, 'train.py')
    const cases: [Parameters<typeof applyOverrides>[1], string, RegExp][] = [
      [{ script: 'missing.py', computeTarget: 'c' }, 'script', /not in the snapshot.*Python files in the snapshot: train.py/s],
      [{ script: '../x.py', computeTarget: 'c' }, 'script', /without '\.\.'/],
      [{ computeTarget: 'c' }, 'script', /no entry script/],
      [{ script: 'train.py' }, 'compute-target', /no compute target/]
    ]
    for (const [overrides, input, pattern] of cases) {
      assert.throws(
        () => validateRunDefinition(applyOverrides(undefined, overrides), files, '/w/train'),
        (e: unknown) => e instanceof InputError && e.input === input && pattern.test(`${e.message} ${e.hint ?? ''}`),
        `${JSON.stringify(overrides)} → ${input}`
      )
    }
  })

  it('turns numeric arguments into strings and rejects other kinds', () => {
    const d = normalizeRunDefinition({ Configuration: { Script: 'a.py', Target: 't', Arguments: [1, '--x', true] } }, 'f')
    assert.deepEqual(validateRunDefinition(d, new Set(['a.py']), '.').configuration.arguments, ['1', '--x', 'true'])
    const bad = normalizeRunDefinition({ Configuration: { Script: 'a.py', Target: 't', Arguments: [{ a: 1 }] } }, 'f')
    assert.throws(() => validateRunDefinition(bad, new Set(['a.py']), '.'), /argument 1 .* must be a string/)
    const badMax = normalizeRunDefinition({ Configuration: { Script: 'a.py', Target: 't', MaxRunDurationSeconds: -5 } }, 'f')
    assert.throws(() => validateRunDefinition(badMax, new Set(['a.py']), '.'), /MaxRunDurationSeconds/)
  })
})
