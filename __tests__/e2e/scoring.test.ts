/**
 * score and classic-score through the bundled action: a deployed model with key auth, and the classic
 * "SimpleFeatureHashingExperiment" web service's Request-Response service, directly and through API
 * Management. classic-batch has its own file (classic-batch.test.ts).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { APIM_DEMO, CLASSIC_DEMO, startEmulator, type Emulator } from '../../emulator/index.js'
import { DEMO_TEXT_SERVICE } from '../../emulator/services.js'
import { errorText, runAgainst, tempWorkspace } from '../helpers/e2e.js'

let emulator: Emulator
before(async () => {
  emulator = await startEmulator({ port: 0, scoringColdStartRequests: 0 })
})
after(async () => {
  await emulator.close()
})

const scoringUri = () => `${emulator.url}/services/demo-scorer/score`
const keys = () => emulator.services.byName('demo-scorer')!.keys
const classicUrl = (gateway = '') => `${emulator.url}${gateway}/workspaces/${CLASSIC_DEMO.workspaceId}/services/${CLASSIC_DEMO.serviceId}`
const isScore = (r: Emulator['requests'][number]) => r.method === 'POST' && r.path.endsWith('/score')
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

  it("score fails at once on the model's 500, with the status and an excerpt; only 502/503 are retried", async () => {
    const faulty = await startEmulator({ port: 0 })
    try {
      const key = faulty.services.byName('demo-scorer')!.keys.primaryKey
      const inputs = { operation: 'score', 'scoring-uri': `${faulty.url}/services/demo-scorer/score`, 'scoring-key': key, 'scoring-data': '{"data": [[1, 1]]}' }
      faulty.faults.add({ method: 'POST', path: '/score$', kind: 'status', status: 500, body: 'model raised ValueError: boom', times: 1 })
      const failed = await runAgainst(faulty, inputs, { secrets: [key] })
      assert.equal(failed.code, 1)
      assert.equal(failed.requests.filter(isScore).length, 1, 'one attempt')
      assert.match(errorText(failed), /^scoring: HTTP 500 .*model raised ValueError: boom/)
      assert.doesNotMatch(failed.stdout, /retrying/)

      faulty.faults.add({ method: 'POST', path: '/score$', kind: 'status', status: 502, times: 1 })
      const retried = await runAgainst(faulty, inputs, { secrets: [key] })
      assert.equal(retried.code, 0, retried.stdout)
      assert.deepEqual(retried.requests.filter(isScore).map(r => r.status), [502, 200])
      assert.deepEqual(JSON.parse(retried.outputs.result).predictions, [1])
    } finally {
      await faulty.close()
    }
  })

  it('score sets result to the text when the scoring script answers text, not JSON', async () => {
    const key = emulator.services.byName(DEMO_TEXT_SERVICE.name)!.keys.primaryKey
    const run = await runAgainst(emulator, { operation: 'score', 'scoring-uri': `${emulator.url}/services/${DEMO_TEXT_SERVICE.name}/score`, 'scoring-key': key, 'scoring-data': '{"data": [[2, 2], [0, 0]]}' }, { secrets: [key] })
    assert.equal(run.code, 0, run.stdout)
    assert.match(run.outputs.result, /^prediction,probability\n1,0\.99\d+\n0,0\.07\d+\n?$/)
    assert.match(run.summary, /prediction,probability/)
  })

  it('data files saved with a UTF-8 BOM are sent without it (score and classic-score)', async () => {
    const root = fixture({ 'data.json': '\uFEFF{"data": [[2, 2]]}', 'rrs.json': `\uFEFF${seedBody}` })
    const scored = await runAgainst(emulator, { operation: 'score', 'scoring-uri': scoringUri(), 'scoring-key': keys().primaryKey, 'scoring-data-file': 'data.json' }, { workspace: root, secrets: [keys().primaryKey] })
    assert.equal(scored.code, 0, scored.stdout)
    assert.deepEqual(JSON.parse(scored.outputs.result).predictions, [1])
    const classic = await runAgainst(emulator, { operation: 'classic-score', 'classic-service-url': classicUrl(), 'classic-api-key': CLASSIC_DEMO.apiKey, 'classic-input-file': 'rrs.json' }, { workspace: root, secrets: [CLASSIC_DEMO.apiKey] })
    assert.equal(classic.code, 0, classic.stdout)
    assert.deepEqual((JSON.parse(classic.outputs.result) as { output1: { value: { Values: string[][] } } }).output1.value.Values[0].slice(1).map(Number), [1, 1, 2, 2, 0, 2, 0, 1])
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

  it('classic-score with a wrong API key fails naming classic-api-key', async () => {
    const run = await runAgainst(emulator, { operation: 'classic-score', 'classic-service-url': classicUrl(), 'classic-api-key': 'bm90IHRoZSBrZXk=', 'classic-input': seedBody })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /^calling the Request-Response service: HTTP 401 .*Invalid credentials provided[\s\S]*Hint: The web service refused its API key: check `classic-api-key`/)
    assert.doesNotMatch(errorText(run), /subscription key/)
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
