/**
 * The README's first command: `npm run demo` trains examples/ with the bundled action against the local
 * Azure ML service, then scores the deployed model and the classic web service. Run as a user runs it.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { PROJECT_ROOT } from '../../scripts/action-runner.js'

describe('npm run demo', () => {
  it('trains examples/ to Completed with metrics, then scores: deployed model, classic RRS and a batch job; leaves no file behind', { timeout: 180_000 }, () => {
    const examplesBefore = readdirSync(path.join(PROJECT_ROOT, 'examples')).sort()
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(INPUT_|GITHUB_|RUNNER_|ACTIONS_)/.test(k)))
    const demo = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { cwd: PROJECT_ROOT, env, encoding: 'utf8', timeout: 170_000 })
    assert.equal(demo.status, 0, `${demo.stdout}\n${demo.stderr}`)
    const out = demo.stdout
    assert.match(out, /^run-status = Completed$/m)
    assert.match(out, /^run-id = demo-logistic-regression_\d+_[0-9a-f]{8}$/m)
    const metrics = JSON.parse(/^metrics = (.+)$/m.exec(out)![1]) as { accuracy: number; loss: number[] }
    assert.ok(metrics.accuracy > 0.8, `accuracy ${metrics.accuracy}`)
    assert.equal(metrics.loss.length, 20, 'a loss per epoch')
    assert.ok(metrics.loss[19] < metrics.loss[0], 'the loss went down')
    assert.match(out, /^The action succeeded\.$/m)
    assert.match(out, /^Saved outputs\/model\.json$/m, 'the driver log was streamed')
    assert.match(out, /^result = \{"predictions":\[1,0\]/m, 'the deployed model scored')
    assert.match(out, /"Values":\[\["This is a good day","1","1","2","2","0","2","0","1"\]\]/, 'the classic service hashed the text')
    assert.match(out, /^The service was slow,(\d,){7}\d$/m, 'the batch output was downloaded')
    assert.deepEqual(readdirSync(path.join(PROJECT_ROOT, 'examples')).sort(), examplesBefore, 'no outputs left in examples/')
  })
})
