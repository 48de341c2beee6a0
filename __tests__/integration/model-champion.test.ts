/**
 * The champion of `register-if` is the latest version of exactly the named model, found however the
 * service's `name` filter matches: here, behind a proxy that drops the filter (the service then answers every
 * model, newest first, in pages of 2), other models newer than the champion fill the first pages.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { DataPlane } from '../../src/azureml/data-plane.js'
import { ModelClient } from '../../src/azureml/models.js'
import type { AzureSession } from '../../src/azureml/session.js'
import { MemoryLogger } from '../../src/logger.js'
import { evaluateGate, parseConditions } from '../../src/operations/model-gate.js'
import { getToken, pollRun, submit } from '../helpers/emulator-client.js'
import { azureSettings, demoPipeline } from '../helpers/in-process.js'
import { rewritingProxy, type RewritingProxy } from '../helpers/rewriting-proxy.js'

let emulator: Emulator
let proxy: RewritingProxy
let session: AzureSession
let runId: string
const models = (via: string) => new ModelClient(new DataPlane(session, via, azureSettings(emulator).workspace))
const listRequests = () => emulator.requests.filter(r => r.method === 'GET' && r.path.endsWith('/models'))

before(async () => {
  emulator = await startEmulator({ port: 0, runPhaseDelayMs: 10, pageSize: 2 })
  proxy = await rewritingProxy(emulator.url, {
    request: (method, url) => {
      if (method === 'GET' && url.pathname.endsWith('/models')) url.searchParams.delete('name')
    }
  })
  const { pipeline, auth } = demoPipeline(emulator, new MemoryLogger())
  session = { pipeline, auth, cloud: azureSettings(emulator).cloud, tenantId: emulator.identity.tenantId }
  const token = await getToken(emulator)
  runId = await submit(emulator, token, {
    experiment: 'champion-exp',
    files: { 'train.py': 'import os\nos.makedirs("outputs", exist_ok=True)\nopen("outputs/model.json", "w").write("{}")\n' },
    definition: { configuration: { script: 'train.py', target: 'cpu-cluster' } }
  })
  assert.equal((await pollRun(emulator, token, 'champion-exp', runId)).run.status, 'Completed')
  // The champion (version 2 of 'churn'), then five newer models whose names start the same way.
  const register = (name: string, loss: string) =>
    models(emulator.url).register({
      name,
      runId,
      experimentName: 'champion-exp',
      path: 'outputs/model.json',
      dataContainerId: `dcid.${runId}`,
      tags: {},
      properties: { 'metric.loss': loss }
    })
  for (const [name, loss] of [['churn', '0.30'], ['churn', '0.20'], ['churn-v2', '0.9'], ['churn-eu', '0.9'], ['churn2', '0.9'], ['churn-us', '0.9'], ['churnx', '0.9']]) {
    await register(name, loss)
  }
})
after(async () => {
  await proxy.close()
  await emulator.close()
})

describe('the champion lookup', () => {
  it('with an exact name filter, is the first model the service answers', async () => {
    const before = listRequests().length
    const champion = await models(emulator.url).latest('churn')
    assert.deepEqual([champion?.id, champion?.properties?.['metric.loss']], ['churn:2', '0.20'])
    assert.equal(listRequests().length - before, 1, 'one page was enough')
  })

  it('when the filter also matches other names, reads pages newest first until the exact name', async () => {
    const before = listRequests().length
    const champion = await models(proxy.url).latest('churn')
    assert.deepEqual([champion?.id, champion?.properties?.['metric.loss']], ['churn:2', '0.20'])
    const requests = listRequests().slice(before)
    assert.ok(requests.every(r => !/(^|&)name=/.test(r.query ?? '')), 'the service was not asked for the exact name')
    assert.equal(requests.length, 3, 'pages of 2: the five newer models, then the champion; no page after it')
    // The gate compares with the champion instead of finding none and letting a worse model through.
    const gate = evaluateGate(parseConditions('loss < champion'), { loss: 0.25 }, champion)
    assert.deepEqual([gate.holds, gate.reasons], [false, ['loss 0.25 < champion 0.2 (version 2): does not hold']])
  })

  it('finds no champion when no model has exactly the name, after reading every page', async () => {
    const before = listRequests().length
    assert.equal(await models(proxy.url).latest('chur'), undefined)
    assert.equal(listRequests().length - before, 4, 'all 7 models, in pages of 2')
  })
})
