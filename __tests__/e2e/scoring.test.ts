/**
 * score, classic-score and classic-batch through the bundled action: a deployed model with key auth, the
 * classic "SimpleFeatureHashingExperiment" web service (Request-Response and Batch Execution, blob storage in
 * Azurite), directly and through API Management.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { APIM_DEMO, CLASSIC_DEMO, startAzurite, startEmulator, type Azurite, type Emulator } from '../../emulator/index.js'
import { errorText, runAgainst, tempWorkspace } from '../helpers/e2e.js'

let emulator: Emulator
let azurite: Azurite
before(async () => {
  ;[emulator, azurite] = await Promise.all([startEmulator({ port: 0, scoringColdStartRequests: 0 }), startAzurite()])
})
after(async () => {
  await Promise.all([emulator.close(), azurite.close()])
})

const scoringUri = () => `${emulator.url}/services/demo-scorer/score`
const keys = () => emulator.services.byName('demo-scorer')!.keys
const classicUrl = (gateway = '') => `${emulator.url}${gateway}/workspaces/${CLASSIC_DEMO.workspaceId}/services/${CLASSIC_DEMO.serviceId}`
const seedBody = JSON.stringify({ Inputs: { input1: { ColumnNames: ['Col2'], Values: [['This is a good day']] } }, GlobalParameters: {} })

describe('scoring (bundled action, local Azure ML service)', { concurrency: 4 }, () => {
  it('score posts the data with the key and returns the model\'s answer, which depends on the input', async () => {
    const low = await runAgainst(emulator, { operation: 'score', 'scoring-uri': scoringUri(), 'scoring-key': keys().primaryKey, 'scoring-data': '{"data": [[0.1, 0.1]]}' }, { secrets: [keys().primaryKey] })
    const high = await runAgainst(emulator, { operation: 'score', 'scoring-uri': scoringUri(), 'scoring-key': keys().secondaryKey, 'scoring-data': '{"data": [[1.5, 1.2], [0, 0]]}' }, { secrets: [keys().secondaryKey] })
    assert.equal(low.code, 0, low.stdout)
    assert.equal(high.code, 0, high.stdout)
    assert.deepEqual(JSON.parse(low.outputs.result).predictions, [0])
    assert.deepEqual(JSON.parse(high.outputs.result).predictions, [1, 0])
    assert.match(low.summary, /Scoring result/)
    assert.ok(low.stdout.includes(`::add-mask::${keys().primaryKey}`), 'the key is masked')
  })

  it('score with service-name looks the endpoint and its key up in the workspace', async () => {
    const run = await runAgainst(emulator, { operation: 'score', 'service-name': 'demo-scorer', 'scoring-data-file': 'data.json' }, { workspace: fixture({ 'data.json': '{"data": [[2, 2]]}' }), secrets: [keys().primaryKey] })
    assert.equal(run.code, 0, run.stdout)
    assert.deepEqual(JSON.parse(run.outputs.result).predictions, [1])
    assert.ok(run.requests.some(r => r.path.endsWith('/listkeys')), 'the key came from listkeys')
  })

  it('score with a wrong key fails with the status and an excerpt of the answer', async () => {
    const run = await runAgainst(emulator, { operation: 'score', 'scoring-uri': scoringUri(), 'scoring-key': 'WrongKeyWrongKeyWrongKey1234567', 'scoring-data': '{"data": [[1, 1]]}' })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /^scoring: HTTP 401 Unauthorized: /)
  })

  it('score retries a cold endpoint\'s 503', async () => {
    const cold = await startEmulator({ port: 0, scoringColdStartRequests: 2 })
    try {
      const key = cold.services.byName('demo-scorer')!.keys.primaryKey
      const run = await runAgainst(cold, { operation: 'score', 'scoring-uri': `${cold.url}/services/demo-scorer/score`, 'scoring-key': key, 'scoring-data': '{"data": [[1, 1]]}' }, { secrets: [key] })
      assert.equal(run.code, 0, run.stdout)
      assert.equal(run.requests.filter(r => r.path.endsWith('/score')).length, 3)
      assert.match(run.stdout, /scoring: HTTP 503 from .*; retrying/)
    } finally {
      await cold.close()
    }
  })

  it('malformed scoring data is refused before anything is sent, naming the input', async () => {
    // A service of its own, so that its request log holds only this action's requests.
    const quiet = await startEmulator({ port: 0 })
    try {
      const run = await runAgainst(quiet, { operation: 'score', 'scoring-uri': `${quiet.url}/services/demo-scorer/score`, 'scoring-key': 'k', 'scoring-data': '{"data": [1, 2' })
      assert.equal(run.code, 1)
      assert.match(errorText(run), /^Input 'scoring-data': is not valid JSON/)
      assert.deepEqual(run.requests, [])
    } finally {
      await quiet.close()
    }
  })

  it("classic-score hashes the seed's text into the 8 features of the seed's web service", async () => {
    const run = await runAgainst(emulator, { operation: 'classic-score', 'classic-service-url': classicUrl(), 'classic-api-key': CLASSIC_DEMO.apiKey, 'classic-input': seedBody }, { secrets: [CLASSIC_DEMO.apiKey] })
    assert.equal(run.code, 0, run.stdout)
    const results = JSON.parse(run.outputs.result) as { output1: { value: { ColumnNames: string[]; Values: string[][] } } }
    assert.deepEqual(results.output1.value.ColumnNames.slice(1), Array.from({ length: 8 }, (_, i) => `Col2_HashingFeature.${i}`))
    assert.deepEqual(results.output1.value.Values[0].slice(1).map(Number), [1, 1, 2, 2, 0, 2, 0, 1])
  })

  it('classic-score through API Management sends the subscription key, and tells the two 401s apart', async () => {
    const gateway = { operation: 'classic-score', 'classic-service-url': classicUrl(APIM_DEMO.prefix), 'classic-input': seedBody }
    const ok = await runAgainst(emulator, { ...gateway, 'classic-api-key': CLASSIC_DEMO.apiKey, 'apim-subscription-key': APIM_DEMO.primaryKey }, { secrets: [APIM_DEMO.primaryKey, CLASSIC_DEMO.apiKey] })
    assert.equal(ok.code, 0, ok.stdout)
    const wrongGatewayKey = await runAgainst(emulator, { ...gateway, 'classic-api-key': CLASSIC_DEMO.apiKey, 'apim-subscription-key': '00000000000000000000000000000000' })
    assert.equal(wrongGatewayKey.code, 1)
    assert.match(errorText(wrongGatewayKey), /HTTP 401 .*subscription key[\s\S]*Hint: API Management refused the subscription key: check `apim-subscription-key`/)
    const wrongServiceKey = await runAgainst(emulator, { ...gateway, 'classic-api-key': 'bm90IHRoZSBrZXk=', 'apim-subscription-key': APIM_DEMO.primaryKey })
    assert.equal(wrongServiceKey.code, 1)
    assert.match(errorText(wrongServiceKey), /HTTP 401[\s\S]*Hint: The web service refused its API key: check `classic-api-key`/)
  })

  it('classic-batch uploads the input file, runs the job and downloads the outputs (no SAS in the result)', async () => {
    const ws = tempWorkspace({ 'reviews.csv': 'Col2,Stars\r\n"This is a good day",5\r\n"I loved this book",4\r\n' })
    try {
      const run = await runAgainst(
        emulator,
        {
          operation: 'classic-batch',
          'classic-service-url': classicUrl(),
          'classic-api-key': CLASSIC_DEMO.apiKey,
          'classic-input-file': 'reviews.csv',
          'storage-connection-string': azurite.connectionString,
          'storage-container': 'bes-e2e',
          'classic-output-directory': 'out'
        },
        { workspace: ws.root, secrets: [CLASSIC_DEMO.apiKey, azurite.accountKey, azurite.connectionString] }
      )
      assert.equal(run.code, 0, run.stdout + run.stderr)
      assert.match(run.outputs['job-id'], /^[0-9a-f]{32}$/)
      const result = JSON.parse(run.outputs.result) as Record<string, { location: string; file: string }>
      assert.ok(!/sig=|AccountKey/i.test(run.outputs.result), 'no credential in the result')
      assert.match(result.output1.location, /\/bes-e2e\/azureml-action\/.*output1\.csv$/)
      const csv = readFileSync(path.join(ws.root, 'out', 'output1.csv'), 'utf8').trim().split(/\r?\n/)
      assert.equal(csv.length, 3, 'a header and one row per review')
      assert.match(csv[1], /This is a good day/)
      assert.match(run.stdout, /Batch job [0-9a-f]+: Finished/)
    } finally {
      ws.cleanup()
    }
  })

  it('classic-batch with a payload that points at a missing blob fails with the job\'s Details', async () => {
    const payload = { Inputs: { input1: { ConnectionString: azurite.connectionString, RelativeLocation: '/bes-e2e/missing.csv' } }, Outputs: null, GlobalParameters: {} }
    const run = await runAgainst(emulator, { operation: 'classic-batch', 'classic-service-url': classicUrl(), 'classic-api-key': CLASSIC_DEMO.apiKey, 'classic-input': JSON.stringify(payload) }, { secrets: [azurite.accountKey] })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /Batch job [0-9a-f]+ ended Failed: .*missing\.csv/)
  })

  it('classic-batch deletes the job when timeout-minutes passes', async () => {
    const slow = await startEmulator({ port: 0, batchJobs: { runDelayMs: 30_000 } })
    const ws = tempWorkspace({ 'one.csv': 'Col2\nslow day\n' })
    try {
      const run = await runAgainst(
        slow,
        {
          operation: 'classic-batch',
          'classic-service-url': `${slow.url}/workspaces/${CLASSIC_DEMO.workspaceId}/services/${CLASSIC_DEMO.serviceId}`,
          'classic-api-key': CLASSIC_DEMO.apiKey,
          'classic-input-file': 'one.csv',
          'storage-connection-string': azurite.connectionString,
          'storage-container': 'bes-slow',
          'timeout-minutes': '0.03'
        },
        { workspace: ws.root, secrets: [azurite.accountKey] }
      )
      assert.equal(run.code, 1)
      const jobId = run.outputs['job-id']
      assert.match(errorText(run), new RegExp(`Batch job ${jobId} did not finish within timeout-minutes .*it was deleted`))
      assert.ok(run.requests.some(r => r.method === 'DELETE' && r.path.endsWith(`/jobs/${jobId}`)))
      assert.equal(run.state['azureml-batch-job-to-delete'] ?? '', '', 'nothing left for the post step')
    } finally {
      ws.cleanup()
      await slow.close()
    }
  })

  it('classic inputs are checked before anything is sent', async () => {
    // A service of its own, so that its request log holds only these actions' requests.
    const quiet = await startEmulator({ port: 0 })
    const url = `${quiet.url}/workspaces/${CLASSIC_DEMO.workspaceId}/services/${CLASSIC_DEMO.serviceId}`
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'classic-service-url': `${quiet.url}/not/a/service`, 'classic-api-key': 'k', 'classic-input': seedBody }, /^Input 'classic-service-url': .* does not end with \/workspaces\/<workspace id>\/services\/<service id>/],
      [{ 'classic-service-url': url, 'classic-input': seedBody }, /^Input 'classic-api-key': required/],
      [{ 'classic-service-url': url, 'classic-api-key': 'k', 'classic-input': '{"Inputs": ' }, /^Input 'classic-input': is not valid JSON/],
      [{ 'classic-service-url': url, 'classic-api-key': 'k', 'classic-input': '{"Values": []}' }, /^Input 'classic-input': must be a JSON object with "Inputs"/],
      [{ 'classic-service-url': `http://ussouthcentral.services.azureml.net/workspaces/${CLASSIC_DEMO.workspaceId}/services/${CLASSIC_DEMO.serviceId}`, 'classic-api-key': 'k', 'classic-input': seedBody }, /^Input 'classic-service-url': .* must use https/]
    ]
    try {
      for (const [inputs, message] of cases) {
        const run = await runAgainst(quiet, { operation: 'classic-score', ...inputs })
        assert.equal(run.code, 1)
        assert.match(errorText(run), message)
      }
      assert.deepEqual(quiet.requests, [], 'nothing was sent')
    } finally {
      await quiet.close()
    }
  })
})

/** A workspace folder with files, removed when the process ends. */
function fixture(files: Record<string, string>): string {
  const ws = tempWorkspace(files)
  process.once('exit', ws.cleanup)
  return ws.root
}
