/**
 * The job summary and the failure message of a run: text that comes from the run (its error, its driver
 * log, its metric names) is shown as typed — no links, images or HTML render — and token- and key-shaped
 * values in it are hidden; the unknown-compute hint recognises Azure's wordings.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AzureRequestError } from '../../src/http/errors.js'
import type { RunOutcome } from '../../src/operations/run-outcome.js'
import { scrubSecrets } from '../../src/report/log-text.js'
import { cell, inlineCode } from '../../src/report/markdown.js'
import { runFailure, runSummary } from '../../src/report/run-report.js'
import { findLeaks } from '../helpers/e2e.js'

const JWT = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tLyJ9.c2lnbmF0dXJlLXBhcnQ'

function failed(error: string, logTail: string[] = [], metrics: RunOutcome['metrics'] = {}): RunOutcome {
  return {
    runId: 'exp_1',
    experiment: 'exp',
    runUrl: 'https://ml.azure.com/runs/exp_1',
    status: 'Failed',
    waited: true,
    timedOut: false,
    cancelRequested: false,
    aborted: false,
    error,
    logTail,
    metrics
  }
}

describe('run text in the job summary', () => {
  it('the run error is a code span: links, images and HTML in it do not render', () => {
    const error = 'Boom ![track](https://evil.example/p.png) [click me](https://evil.example) <img src=x onerror=alert(1)> `tick`'
    const summary = runSummary(failed(error))
    const line = summary.split('\n').find(l => l.startsWith('**Error:**'))
    assert.equal(line, `**Error:** \`\` ${error} \`\``)
    assert.equal(inlineCode('`starts and ends`'), '`` `starts and ends` ``')
    assert.equal(inlineCode('two\nlines'), '`two lines`')
  })

  it('metric names and registration reasons are escaped: no link or image syntax survives', () => {
    const summary = runSummary(failed('x', [], { '[click](https://evil.example)': 1, '![](https://evil.example/p.png)': 2 }))
    assert.doesNotMatch(summary, /(?<!\\)\[[^\]]*(?<!\\)\]\(https:\/\/evil/, summary)
    assert.match(summary, /\| \\\[click\\\]\(https:\/\/evil\.example\) \| 1 \|/)
    assert.equal(cell('a\\[b]|<c>'), 'a\\\\\\[b\\]\\|&lt;c&gt;')
  })

  it('JWTs, sig=, AccountKey= and SharedAccessSignature= values in the error and the log tail are hidden in the summary and the failure', () => {
    const tail = [
      `token ${JWT}`,
      'blob https://a.blob.core.windows.net/c/b?sv=2019-02-02&sig=AbC%2Bdef&se=2',
      'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0S2V5+/w==;EndpointSuffix=core.windows.net',
      'BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=sv=2019-02-02&ss=b&sig=xyz;'
    ]
    const outcome = failed(`could not read https://a/b?sig=ErrSig123 with Bearer ${JWT}`, tail)
    const summary = runSummary(outcome)
    const failure = runFailure(outcome)
    assert.ok(failure)
    assert.deepEqual(findLeaks({ summary, failure: failure.message }, []), [])
    assert.match(summary, /token \*\*\*\n/)
    assert.match(failure.message, /AccountKey=\*\*\*;EndpointSuffix=core\.windows\.net/)
    assert.match(failure.message, /SharedAccessSignature=\*\*\*;/)
    assert.match(failure.message, /sig=\*\*\* with Bearer \*\*\*/)
    // Everything else stays readable.
    assert.equal(scrubSecrets('loss=0.25; signature of sigma=3'), 'loss=0.25; signature of sigma=3')
  })
})

describe('the unknown-compute hint', () => {
  const wordings = [
    'AzureMLCompute cluster deal-uat does not exist',
    "Unknown compute target 'kubeonprem'.",
    'Compute target gpu-cluster not found',
    "Compute target 'gpu-cluster' was not found in workspace 'ws'.",
    'ComputeTargetNotFound: Compute Target with name gpu not found in provided workspace',
    "Provisioning error: BatchAI cluster '/subscriptions/s/resourceGroups/rg/providers/Microsoft.BatchAI/workspaces/w/clusters/deal-uat' was not found."
  ]
  for (const wording of wordings) {
    it(`a run that failed with "${wording}" and startrun refusing with it both hint at create-compute`, () => {
      assert.match(runFailure(failed(wording))?.hint ?? '', /compute target does not exist.*create-compute/)
      for (const status of [400, 404]) {
        const refused = new AzureRequestError({ operation: "starting run 'r' in experiment 'e'", status, code: 'UserError', message: wording })
        assert.match(refused.hint ?? '', /compute target does not exist.*create-compute/)
      }
    })
  }

  it('not for other failures that mention a compute', () => {
    assert.equal(runFailure(failed('User program failed with KeyError: compute target does not exist in config'))?.hint, undefined)
    assert.equal(runFailure(failed("Compute target 'slow' is not ready. Its file was not found"))?.hint, undefined)
    assert.equal(new AzureRequestError({ operation: 'x', status: 500, code: 'InternalServerError', message: 'Compute target x not found' }).hint, undefined)
  })
})
