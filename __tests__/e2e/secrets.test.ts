/**
 * Secrets: every end-to-end run is scanned by runAgainst (helpers/e2e.ts) for the secrets it can know (the
 * secret inputs given to the action, every key and token the emulator holds), JWTs, SAS signatures and
 * connection-string keys in everything the action wrote. Here: proof that the scan catches planted leaks
 * (so it cannot pass by finding nothing), that the action hides token- and key-shaped text a script prints,
 * and the debug log (ACTIONS_STEP_DEBUG) showing every request with no Authorization value and SAS
 * signatures as `sig=REDACTED`.
 */
import assert from 'node:assert/strict'
import { AssertionError } from 'node:assert'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { findLeaks, runAgainst, tempWorkspace } from '../helpers/e2e.js'

let emulator: Emulator
before(async () => {
  emulator = await startEmulator({ port: 0, runPhaseDelayMs: 50 })
})
after(() => emulator.close())

const JWT = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ4In0.c2lnbmF0dXJl'

describe('secret scan', { concurrency: true }, () => {
  it('finds secrets as they are and percent-encoded, JWTs, SAS signatures and connection-string keys; lets REDACTED and *** pass', () => {
    const leaks = findLeaks(
      {
        stdout: `a ${encodeURIComponent('p@ss/word+1')} b\nBearer ${JWT}\nGET https://a.blob.core.windows.net/c/x?sv=1&sig=abc%2Bdef&se=2\n`,
        stderr: 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0S2V5+/w==;EndpointSuffix=core.windows.net\nBlobEndpoint=https://a;SharedAccessSignature=sv=2019-02-02&ss=b&se=x',
        summary: 'GET https://a.blob.core.windows.net/c/x?sv=1&sig=REDACTED&se=2, AccountKey=REDACTED; AccountKey=***; SharedAccessSignature=***; sig=*** and ::error::a?sig=***%0Anext line, nothing else'
      },
      ['p@ss/word+1']
    )
    assert.deepEqual(leaks.map(l => `${l.where}: ${l.what}`), [
      'stdout: a secret value',
      'stdout: a JWT (access or run token)',
      'stdout: a SAS signature',
      'stderr: a storage account key',
      'stderr: a SAS token'
    ])
    assert.ok(leaks.every(l => !/abc%2Bdef|c2VjcmV0|ss=b|p%40ss/.test(l.line) && !l.line.includes(JWT)), 'the report does not repeat the secret')
  })

  it('fails the test when the bundled action writes a secret anywhere (planted leaks), listed or not', async () => {
    // None of these is passed to runAgainst: it knows the emulator's keys and the action's secret inputs.
    const scoringKey = emulator.services.byName('demo-scorer')?.keys.primaryKey
    assert.ok(scoringKey, 'the demo scoring service has a key')
    const githubToken = 'ghp_plantedGitHubToken0123456789abcdef'
    const key = 'AccountKey=planted+Key/Value==;EndpointSuffix=core.windows.net'
    const ws = tempWorkspace({
      'train.py': [
        'import os, sys',
        `print("client secret:", ${JSON.stringify(emulator.identity.clientSecret)})`,
        `print("scoring key:", ${JSON.stringify(scoringKey)})`,
        `print("github token:", ${JSON.stringify(githubToken)})`,
        'print("run token:", os.environ["AZUREML_RUN_TOKEN"])',
        'print("blob: https://acct.blob.core.windows.net/c/b?sv=2019-02-02&sig=AbC123%2Bxyz")',
        `print("connection string:", ${JSON.stringify(key)})`,
        'sys.exit(3)'
      ].join('\n')
    })
    try {
      const inputs = { 'experiment-name': 'leak', script: 'train.py', 'compute-target': 'cpu-cluster', 'github-token': githubToken, 'comment-on-pr': 'false' }
      const error = await runAgainst(emulator, inputs, { workspace: ws.root }).then(
        () => assert.fail('the scan let a planted leak through'),
        (e: unknown) => e
      )
      assert.ok(error instanceof AssertionError, String(error))
      const report = error.message
      assert.match(report, /^The action leaked \d+ secret\(s\):/)
      for (const line of ['client secret: ▶[here]', 'scoring key: ▶[here]', 'github token: ▶[here]']) {
        assert.ok(report.includes(`a secret value in stdout: ${line}`), `${line}:\n${report}`)
      }
      // The failed run's last log lines go into the error and the job summary too.
      assert.ok(report.includes('in GITHUB_STEP_SUMMARY'), report)
      // What has the shape of a token or key the action hid itself (as ***), in the log, the error and the summary.
      for (const what of ['a JWT', 'a SAS signature', 'a storage account key']) assert.ok(!report.includes(what), `${what} was not hidden:\n${report}`)
      assert.ok(!report.includes(emulator.identity.clientSecret) && !report.includes(scoringKey) && !report.includes(githubToken), 'the report itself does not leak')
    } finally {
      ws.cleanup()
    }
  })

  it('with ACTIONS_STEP_DEBUG the debug log shows every request, never an Authorization value, and SAS signatures as sig=REDACTED', async () => {
    const ws = tempWorkspace({ 'train.py': 'print("hello from the run")\n' })
    try {
      const run = await runAgainst(
        emulator,
        { 'experiment-name': 'debug', script: 'train.py', 'compute-target': 'cpu-cluster' },
        { workspace: ws.root, env: { ACTIONS_STEP_DEBUG: 'true', RUNNER_DEBUG: '1' } }
      )
      assert.equal(run.code, 0, run.stdout)
      const debug = run.stdout.split('\n').filter(l => l.startsWith('::debug::'))
      const shows = (pattern: RegExp, what: string) => assert.ok(debug.some(l => pattern.test(l)), `the debug log shows ${what}:\n${debug.join('\n')}`)
      shows(/^::debug::POST http:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]+\/oauth2\/v2\.0\/token → 200 in \d+ ms \(x-ms-request-id [0-9a-f-]{36}\)$/, 'the token request')
      shows(/^::debug::GET .*\/workspaces\/local-ws\?api-version=[\d-]+ → 200 /, 'the workspace request')
      shows(/^::debug::POST .*\/experiments\/debug\/startrun\?api-version=[\d-]+&runId=debug_\d+_[0-9a-f]{8} → 200 /, 'the start')
      shows(/^::debug::GET .*\/history\/v1\.0\/.*\/runs\/debug_[^/?]+\?api-version=[\d-]+ → 200 /, 'the status polls')
      shows(/^::debug::GET .*[?&]sig=REDACTED\b.* → 20\d /, 'the driver log read, its signature redacted')
      assert.ok(!debug.some(l => /[?&]sig=(?!REDACTED)/.test(l)), 'no signature in the clear')
      for (const text of [run.stdout, run.stderr]) {
        assert.doesNotMatch(text, /authorization\s*[:=]\s*\S/i)
        assert.doesNotMatch(text, /Bearer\s+[A-Za-z0-9]/)
      }
      assert.match(run.stdout, /^hello from the run$/m)
      // runAgainst has scanned all of it for JWTs, client secrets and signatures.
    } finally {
      ws.cleanup()
    }
  })
})
