import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { aadRoutes } from '../../emulator/aad.js'
import { Access } from '../../emulator/access.js'
import { ArtifactStore } from '../../emulator/artifact-store.js'
import { BlobSigner } from '../../emulator/blob.js'
import { FaultController } from '../../emulator/faults.js'
import { Router } from '../../emulator/http.js'
import { DEMO } from '../../emulator/identity.js'
import { RunExecutor } from '../../emulator/runner.js'
import { scoringRoutes } from '../../emulator/scoring.js'
import { createEmulatorServer } from '../../emulator/server.js'
import { DeployedServices, servicesRoutes } from '../../emulator/services.js'
import type { Settings } from '../../emulator/settings.js'
import { EmulatorState } from '../../emulator/state.js'
import { TokenService } from '../../emulator/tokens.js'
import { validateDefinition, validateResponse } from '../helpers/contract.js'
import { emulatedCloud } from '../../emulator/clouds.js'
import { Addressing } from '../../emulator/endpoints.js'
import { GitHubOidc } from '../../emulator/github-oidc.js'

const MM = 'data-plane-2019-09-30/modelManagement.json'
const WS = `/subscriptions/${DEMO.subscriptionId}/resourceGroups/${DEMO.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${DEMO.workspaceName}`

/** The local service with only AAD, model management's services and the scoring front end mounted. */
async function startServer(services: DeployedServices): Promise<{ url: string; close: () => Promise<void> }> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'scoring-test-'))
  const settings: Settings = {
    tokenLifetimeSeconds: 3599,
    runPhaseDelayMs: 0,
    pageSize: 10,
    python: 'python3',
    maxUploadBytes: 1024 * 1024,
    sasLifetimeSeconds: 3600,
    provisioningDelayMs: 0,
    armAudiences: ['https://management.azure.com/', 'https://management.azure.com', 'https://management.core.windows.net/', 'https://management.core.windows.net']
  }
  const state = new EmulatorState()
  const tokens = new TokenService()
  const access = new Access(tokens, state, settings.armAudiences)
  const artifacts = new ArtifactStore(tmp)
  let url = ''
  const runner = new RunExecutor({ settings, artifacts, tokens, runsDir: tmp, pythonPath: tmp, baseUrl: () => url })
  const router = new Router()
  router.add(
    ...aadRoutes({ state, tokens, settings, oidc: new GitHubOidc(), resources: settings.armAudiences }),
    ...servicesRoutes({ state, access, settings, artifacts, blob: new BlobSigner(settings), runner, services }),
    ...scoringRoutes({ services })
  )
  const server = createEmulatorServer({ router, faults: new FaultController(), requests: [], location: DEMO.location, addressing: new Addressing(emulatedCloud(), () => url) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    close: async () => {
      await runner.close()
      await new Promise<void>(resolve => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      await rm(tmp, { recursive: true, force: true })
    }
  }
}

async function getToken(url: string, principal: { clientId: string; clientSecret: string } = DEMO): Promise<string> {
  const res = await fetch(`${url}/${DEMO.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: principal.clientId, client_secret: principal.clientSecret, scope: 'https://management.azure.com/.default' })
  })
  assert.equal(res.status, 200, await res.clone().text())
  return ((await res.json()) as { access_token: string }).access_token
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z))

let server: { url: string; close: () => Promise<void> }
let services: DeployedServices
let token: string
const mmPath = (suffix: string): string => `/modelmanagement/v1.0${WS}${suffix}`
const mm = (suffix: string): string => `${server.url}${mmPath(suffix)}`
const auth = (): Record<string, string> => ({ Authorization: `Bearer ${token}` })

before(async () => {
  services = new DeployedServices()
  services.deploy({ name: 'aks-scorer', computeType: 'AKS', model: { name: 'other-model', weights: [-1, 1], bias: 0 }, kvTags: { stage: 'prod' } })
  services.deploy({ name: 'cold-scorer', coldStartRequests: 2 })
  for (const name of ['svc-a', 'svc-b', 'svc-c']) services.deploy({ name, kvTags: { batch: 'paging' } })
  server = await startServer(services)
  token = await getToken(server.url)
})
after(() => server.close())

describe('model management: deployed services', () => {
  it('lists the demo service in the swagger shape, filtered by name', async () => {
    const res = await fetch(mm('/services?name=demo-scorer&api-version=2018-11-19'), { headers: auth() })
    assert.equal(res.status, 200)
    const body = (await res.json()) as { value: Array<Record<string, unknown>>; nextLink?: string }
    validateResponse(MM, mmPath('/services'), 'GET', 200, body, { strict: true })
    assert.equal(body.value.length, 1)
    const svc = body.value[0]
    assert.equal(svc.name, 'demo-scorer')
    assert.equal(svc.computeType, 'ACI')
    assert.equal(svc.state, 'Healthy')
    assert.equal(svc.authEnabled, true)
    assert.equal(svc.scoringUri, `${server.url}/services/demo-scorer/score`)
    assert.equal(body.nextLink, undefined)

    const none = (await (await fetch(mm('/services?name=no-such-service'), { headers: auth() })).json()) as { value: unknown[] }
    assert.deepEqual(none.value, [])
  })

  it('filters by computeType, modelName and tags, and refuses an unknown computeType', async () => {
    const aks = (await (await fetch(mm('/services?computeType=AKS'), { headers: auth() })).json()) as { value: Array<Record<string, unknown>> }
    assert.deepEqual(aks.value.map(s => s.name), ['aks-scorer'])
    assert.equal(aks.value[0].scoringUri, `${server.url}/api/v1/service/aks-scorer/score`)
    // The contract helper resolves only direct discriminator subtypes; AKS's is a grandchild of ServiceResponseBase.
    validateDefinition(MM, 'AKSServiceResponse', aks.value[0], { strict: true })
    const byModel = (await (await fetch(mm('/services?modelName=other-model'), { headers: auth() })).json()) as { value: Array<{ name: string }> }
    assert.deepEqual(byModel.value.map(s => s.name), ['aks-scorer'])
    const byTag = (await (await fetch(mm('/services?tags=stage=prod'), { headers: auth() })).json()) as { value: Array<{ name: string }> }
    assert.deepEqual(byTag.value.map(s => s.name), ['aks-scorer'])

    const bad = await fetch(mm('/services?computeType=VM'), { headers: auth() })
    assert.equal(bad.status, 400)
    const err = (await bad.json()) as Record<string, unknown>
    assert.equal(err.statusCode, 400)
    assert.equal(err.code, 'BadRequest')
    validateResponse(MM, mmPath('/services'), 'GET', 400, err, { strict: true })
  })

  it('pages with count and an absolute nextLink, in the requested order', async () => {
    const names: string[] = []
    let next: string | undefined = mm('/services?tags=batch&count=2&orderby=CreatedAtAsc')
    let pages = 0
    while (next) {
      const res = await fetch(next, { headers: auth() })
      assert.equal(res.status, 200)
      const body = (await res.json()) as { value: Array<{ name: string }>; nextLink?: string }
      assert.ok(body.value.length <= 2)
      names.push(...body.value.map(s => s.name))
      next = body.nextLink
      pages += 1
    }
    assert.deepEqual(names, ['svc-a', 'svc-b', 'svc-c'])
    assert.equal(pages, 2)
    const desc = (await (await fetch(mm('/services?tags=batch&orderby=CreatedAtDesc'), { headers: auth() })).json()) as { value: Array<{ name: string }> }
    assert.deepEqual(desc.value.map(s => s.name), ['svc-c', 'svc-b', 'svc-a'])
  })

  it('gets one service (with its model when expanded) and answers 404 ModelErrorResponse for an unknown one', async () => {
    const res = await fetch(mm('/services/demo-scorer?expand=true'), { headers: auth() })
    assert.equal(res.status, 200)
    const svc = (await res.json()) as { models: Array<{ id: string; name: string }> }
    validateResponse(MM, mmPath('/services/demo-scorer'), 'GET', 200, svc, { strict: true })
    assert.equal(svc.models[0].id, 'demo-model:1')

    const missing = await fetch(mm('/services/nope'), { headers: auth() })
    assert.equal(missing.status, 404)
    const err = (await missing.json()) as { code: string; statusCode: number; message: string; details: unknown[] }
    validateResponse(MM, mmPath('/services/nope'), 'GET', 404, err, { strict: true })
    assert.equal(err.statusCode, 404)
    assert.match(err.message, /nope/)
  })

  it('lists keys for a principal with a role; 401 without a token, 403 without a role', async () => {
    const res = await fetch(mm('/services/demo-scorer/listkeys'), { method: 'POST', headers: auth() })
    assert.equal(res.status, 200)
    const keys = (await res.json()) as { primaryKey: string; secondaryKey: string }
    validateResponse(MM, mmPath('/services/demo-scorer/listkeys'), 'POST', 200, keys, { strict: true })
    assert.match(keys.primaryKey, /^[A-Za-z0-9]{32}$/)
    assert.match(keys.secondaryKey, /^[A-Za-z0-9]{32}$/)
    assert.notEqual(keys.primaryKey, keys.secondaryKey)

    const anonymous = await fetch(mm('/services/demo-scorer/listkeys'), { method: 'POST' })
    assert.equal(anonymous.status, 401)
    assert.equal(((await anonymous.json()) as { statusCode: number }).statusCode, 401)
    const noRole = await getToken(server.url, DEMO.noRole)
    const forbidden = await fetch(mm('/services/demo-scorer/listkeys'), { method: 'POST', headers: { Authorization: `Bearer ${noRole}` } })
    assert.equal(forbidden.status, 403)
    const missing = await fetch(mm('/services/nope/listkeys'), { method: 'POST', headers: auth() })
    assert.equal(missing.status, 404)
  })
})

describe('scoring a deployed model with key auth', () => {
  let keys: { primaryKey: string; secondaryKey: string }
  let scoringUri: string
  before(async () => {
    keys = (await (await fetch(mm('/services/demo-scorer/listkeys'), { method: 'POST', headers: auth() })).json()) as typeof keys
    scoringUri = ((await (await fetch(mm('/services/demo-scorer'), { headers: auth() })).json()) as { scoringUri: string }).scoringUri
  })
  const score = (body: string, key?: string, uri = scoringUri): Promise<Response> =>
    fetch(uri, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(key ? { Authorization: `Bearer ${key}` } : {}) }, body })

  it('answers with predictions computed from the input, with either key', async () => {
    for (const key of [keys.primaryKey, keys.secondaryKey]) {
      const res = await score(JSON.stringify({ data: [[0, 0], [1, 1], [0.2, 0.3], [3, -1]] }), key)
      assert.equal(res.status, 200)
      const body = (await res.json()) as { predictions: number[]; probabilities: number[] }
      assert.deepEqual(body.predictions, [0, 1, 0, 1])
      const expected = [sigmoid(-2.5), sigmoid(2.5), sigmoid(-1.25), sigmoid(2.5)]
      body.probabilities.forEach((p, i) => assert.ok(Math.abs(p - expected[i]) < 1e-12, `probability ${i}: ${p} vs ${expected[i]}`))
    }
    const other = (await (await score(JSON.stringify({ data: [[5, 5]] }), keys.primaryKey)).json()) as { predictions: number[]; probabilities: number[] }
    assert.deepEqual(other.predictions, [1])
    assert.ok(Math.abs(other.probabilities[0] - sigmoid(22.5)) < 1e-12)
  })

  it('refuses a missing or wrong key with 401 before running the model', async () => {
    for (const res of [await score('{"data":[[1,1]]}'), await score('{"data":[[1,1]]}', 'x'.repeat(32)), await score('{"data":[[1,1]]}', token)]) {
      assert.equal(res.status, 401)
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
      assert.equal(res.headers.get('www-authenticate'), 'Bearer')
      assert.match(await res.text(), /^Unauthorized/)
    }
    const basic = await fetch(scoringUri, { method: 'POST', headers: { Authorization: `Basic ${keys.primaryKey}` }, body: '{"data":[[1,1]]}' })
    assert.equal(basic.status, 401)
  })

  it("answers 400 with the scoring script's error for a body it cannot score", async () => {
    const cases: Array<[string, RegExp]> = [
      ['{"data": [[1, 1]', /not valid JSON|parse/i],
      ['{"rows": [[1, 1]]}', /"data"/],
      ['[[1, 1]]', /"data"/],
      ['{"data": {"x0": 1}}', /"data" must be an array/],
      ['{"data": [[1, 2, 3]]}', /Row 0 .* 2 numbers/],
      ['{"data": [[1, 1], [1]]}', /Row 1/],
      ['{"data": [["a", 1]]}', /finite numbers/]
    ]
    for (const [body, message] of cases) {
      const res = await score(body, keys.primaryKey)
      assert.equal(res.status, 400, body)
      const err = (await res.json()) as { error: string }
      assert.match(err.error, message, body)
    }
    const empty = (await (await score('{"data": []}', keys.primaryKey)).json()) as { predictions: number[] }
    assert.deepEqual(empty.predictions, [])
  })

  it('answers 405 to GET, 404 for an unknown service, and serves the swagger without a key', async () => {
    const get = await fetch(scoringUri, { headers: { Authorization: `Bearer ${keys.primaryKey}` } })
    assert.equal(get.status, 405)
    assert.equal(get.headers.get('allow'), 'POST, OPTIONS')
    const unknown = await score('{"data":[[1,1]]}', keys.primaryKey, `${server.url}/services/no-such-service/score`)
    assert.equal(unknown.status, 404)
    const swagger = await fetch(scoringUri.replace(/score$/, 'swagger.json'))
    assert.equal(swagger.status, 200)
    assert.equal(((await swagger.json()) as { swagger: string }).swagger, '2.0')
  })

  it("scores an AKS service at azureml-fe's path with its own keys only", async () => {
    const aksKeys = (await (await fetch(mm('/services/aks-scorer/listkeys'), { method: 'POST', headers: auth() })).json()) as typeof keys
    const uri = `${server.url}/api/v1/service/aks-scorer/score`
    const res = await score('{"data": [[2, 1], [1, 2]]}', aksKeys.secondaryKey, uri)
    assert.equal(res.status, 200)
    assert.deepEqual(((await res.json()) as { predictions: number[] }).predictions, [0, 1])
    assert.equal((await score('{"data": [[2, 1]]}', keys.primaryKey, uri)).status, 401)
  })

  it("answers CSV text from demo-text-scorer, whose scoring script returns text, computed from the input", async () => {
    const textKeys = (await (await fetch(mm('/services/demo-text-scorer/listkeys'), { method: 'POST', headers: auth() })).json()) as typeof keys
    const uri = `${server.url}/services/demo-text-scorer/score`
    const res = await score('{"data": [[1, 1], [0, 0]]}', textKeys.primaryKey, uri)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/csv/)
    assert.equal(await res.text(), `prediction,probability\n1,${sigmoid(2.5).toFixed(4)}\n0,${sigmoid(-2.5).toFixed(4)}\n`)
    assert.equal((await score('{"data": [[1, 1]]}', keys.primaryKey, uri)).status, 401, "the other service's key does not open it")
  })

  it('answers 503 while a cold container starts, then scores', async () => {
    const coldKeys = (await (await fetch(mm('/services/cold-scorer/listkeys'), { method: 'POST', headers: auth() })).json()) as typeof keys
    const uri = `${server.url}/services/cold-scorer/score`
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) statuses.push((await score('{"data": [[1, 1]]}', coldKeys.primaryKey, uri)).status)
    assert.deepEqual(statuses, [503, 503, 200])
  })
})
