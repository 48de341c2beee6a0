import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { validateResponse } from '../helpers/contract.js'
import { dataPlaneUrl, getToken, pollRun, submit } from '../helpers/emulator-client.js'

const MM = 'data-plane-2019-09-30/modelManagement.json'
const M = '/modelmanagement/v1.0/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/{workspace}'

const TRAIN = `
import json, os
os.makedirs("outputs/weights", exist_ok=True)
with open("outputs/model.json", "w") as f:
    json.dump({"w": [1, 2, 3]}, f)
with open("outputs/weights/layer1.bin", "wb") as f:
    f.write(b"\\x00\\x01")
print("saved")
`

let emulator: Emulator
let token: string
let runId: string
before(async () => {
  emulator = await startEmulator({ port: 0, runPhaseDelayMs: 10, pageSize: 2 })
  token = await getToken(emulator)
  runId = await submit(emulator, token, { experiment: 'models-exp', files: { 'train.py': TRAIN }, definition: { configuration: { script: 'train.py', target: 'cpu-cluster' } } })
  const { run } = await pollRun(emulator, token, 'models-exp', runId)
  assert.equal(run.status, 'Completed')
})
after(() => emulator.close())

interface Answer {
  status: number
  body: any
}

async function mm(method: string, suffix: string, body?: unknown, bearer: string | null = token): Promise<Answer> {
  const url = suffix.startsWith('http') ? suffix : dataPlaneUrl(emulator, 'modelmanagement/v1.0', suffix)
  const res = await fetch(url, {
    method,
    headers: { ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

async function createAsset(prefix: string, name = 'model'): Promise<string> {
  const res = await mm('POST', '/assets?api-version=2018-11-19', { name, artifacts: [{ prefix }], kvTags: {}, properties: {}, runid: runId, meta: { experimentName: 'models-exp' } })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  return res.body.id
}

async function register(name: string, assetId: string, extra: Record<string, unknown> = {}): Promise<Answer> {
  return mm('POST', '/models?api-version=2019-11-01', { name, url: `aml://asset/${assetId}`, mimeType: 'application/json', unpack: false, runId, experimentName: 'models-exp', ...extra })
}

/** Asserts a ModelErrorResponse and returns it. */
function modelError(res: Answer, status: number, code: string, detailCode?: string): any {
  assert.equal(res.status, status, JSON.stringify(res.body))
  validateResponse(MM, `${M}/models`, 'POST', status, res.body, { strict: true })
  assert.equal(res.body.code, code)
  assert.equal(res.body.statusCode, status)
  if (detailCode) assert.equal(res.body.details[0].code, detailCode)
  return res.body
}

describe('model management: assets', () => {
  it('creates an asset from a run output file and a folder prefix, and reads and lists it', async () => {
    const prefix = `ExperimentRun/dcid.${runId}/outputs/model.json`
    const created = await mm('POST', '/assets', { name: 'clf', artifacts: [{ prefix }, { prefix: `ExperimentRun/dcid.${runId}/outputs/weights` }], kvTags: { a: '1' }, runid: runId, meta: { k: 'v' } })
    assert.equal(created.status, 200, JSON.stringify(created.body))
    validateResponse(MM, `${M}/assets`, 'POST', 200, created.body, { strict: true })
    assert.match(created.body.id, /^[0-9a-f]{32}$/)
    assert.equal(created.body.runid, runId)
    assert.deepEqual(created.body.meta, { k: 'v' })
    assert.ok(Date.parse(created.body.createdTime) <= Date.now())

    const one = await mm('GET', `/assets/${created.body.id}`)
    assert.equal(one.status, 200)
    validateResponse(MM, `${M}/assets/{id}`, 'GET', 200, one.body, { strict: true })
    assert.deepEqual(one.body, created.body)

    const listed = await mm('GET', `/assets?runId=${runId}&name=clf`)
    validateResponse(MM, `${M}/assets`, 'GET', 200, listed.body, { strict: true })
    assert.deepEqual(listed.body.value.map((a: { id: string }) => a.id), [created.body.id])
    assert.equal(listed.body.nextLink, undefined)
  })

  it('rejects prefixes that match no artifact, runs that do not exist and bodies without artifacts', async () => {
    const bad = `ExperimentRun/dcid.${runId}/outputs/nope.pkl`
    const noFile = modelError(await mm('POST', '/assets', { name: 'x', artifacts: [{ prefix: bad }] }), 400, 'BadRequest', 'ArtifactNotFound')
    assert.equal(noFile.message, `The artifact prefix '${bad}' matches no artifact of run '${runId}'.`)
    assert.equal(noFile.details[0].target, 'artifacts[0].prefix')
    // A prefix is a path prefix by folder: 'outputs/mod' is not 'outputs/model.json'.
    modelError(await mm('POST', '/assets', { name: 'x', artifacts: [{ prefix: `ExperimentRun/dcid.${runId}/outputs/mod` }] }), 400, 'BadRequest', 'ArtifactNotFound')
    const noRun = modelError(await mm('POST', '/assets', { name: 'x', artifacts: [{ prefix: 'ExperimentRun/dcid.ghost_1/outputs/model.json' }] }), 400, 'BadRequest', 'RunNotFound')
    assert.match(noRun.message, /names run 'ghost_1', which does not exist/)
    modelError(await mm('POST', '/assets', { name: 'x', artifacts: [{ prefix: 'outputs' }] }), 400, 'BadRequest', 'InvalidArtifactPrefix')
    modelError(await mm('POST', '/assets', { name: 'x', artifacts: [] }), 400, 'BadRequest', 'MissingRequiredField')
    modelError(await mm('POST', '/assets', { artifacts: [{ prefix: `ExperimentRun/dcid.${runId}/outputs/model.json` }] }), 400, 'BadRequest', 'MissingRequiredField')
    modelError(await mm('POST', '/assets', '{not json'), 400, 'BadRequest', 'InvalidRequestBody')
  })

  it('deletes an asset: 200, then 204; an unknown asset is a 404', async () => {
    const id = await createAsset(`ExperimentRun/dcid.${runId}/outputs/model.json`, 'to-delete')
    assert.equal((await mm('DELETE', `/assets/${id}`)).status, 200)
    assert.equal((await mm('DELETE', `/assets/${id}`)).status, 204)
    modelError(await mm('GET', `/assets/${id}`), 404, 'NotFound', 'AssetNotFound')
  })
})

describe('model management: models', () => {
  it('registers versions 1, 2, 3 of a name, echoing what was sent', async () => {
    const assetId = await createAsset(`ExperimentRun/dcid.${runId}/outputs/model.json`)
    const versions: number[] = []
    for (let i = 0; i < 3; i++) {
      const res = await register('sk-model', assetId, {
        description: `take ${i + 1}`,
        framework: 'ScikitLearn',
        frameworkVersion: '1.4.0',
        kvTags: { stage: i === 2 ? 'prod' : 'dev', team: 'ml' },
        properties: { 'metric.accuracy': ['0.80', '0.81', '0.82'][i] }
      })
      assert.equal(res.status, 200, JSON.stringify(res.body))
      validateResponse(MM, `${M}/models`, 'POST', 200, res.body, { strict: true })
      versions.push(res.body.version)
      assert.equal(res.body.id, `sk-model:${i + 1}`)
      assert.equal(res.body.url, `aml://asset/${assetId}`)
      assert.equal(res.body.mimeType, 'application/json')
      assert.equal(res.body.runId, runId)
      assert.equal(res.body.experimentName, 'models-exp')
      assert.equal(res.body.framework, 'ScikitLearn')
      assert.equal(res.body.frameworkVersion, '1.4.0')
      assert.equal(res.body.unpack, false)
      assert.equal(res.body.description, `take ${i + 1}`)
      assert.equal(res.body.createdTime, res.body.modifiedTime)
    }
    assert.deepEqual(versions, [1, 2, 3])
    const one = await mm('GET', '/models/sk-model:2')
    assert.equal(one.status, 200)
    validateResponse(MM, `${M}/models/{id}`, 'GET', 200, one.body, { strict: true })
    assert.deepEqual(one.body.kvTags, { stage: 'dev', team: 'ml' })
    assert.deepEqual(one.body.properties, { 'metric.accuracy': '0.81' })
    // The colon may come percent-encoded.
    assert.equal((await mm('GET', '/models/sk-model%3A3')).body.version, 3)
    // Another name starts at 1; no framework means 'Custom'.
    const other = await register('other.model_v2-x', assetId)
    assert.equal(other.body.id, 'other.model_v2-x:1')
    assert.equal(other.body.framework, 'Custom')
  })

  it('filters the list by name, tags, properties, framework and runId, and orders it', async () => {
    const ids = async (query: string): Promise<string[]> => {
      const res = await mm('GET', `/models?${query.includes('count=') ? '' : 'count=100&'}${query}`)
      assert.equal(res.status, 200, JSON.stringify(res.body))
      validateResponse(MM, `${M}/models`, 'GET', 200, res.body, { strict: true })
      return res.body.value.map((m: { id: string }) => m.id)
    }
    assert.deepEqual(await ids('name=sk-model'), ['sk-model:3', 'sk-model:2', 'sk-model:1'], 'CreatedAtDesc by default')
    assert.deepEqual(await ids('name=sk-model&orderBy=CreatedAtAsc'), ['sk-model:1', 'sk-model:2', 'sk-model:3'])
    assert.deepEqual(await ids('name=sk-model&orderBy=UpdatedAtDesc'), ['sk-model:3', 'sk-model:2', 'sk-model:1'])
    assert.deepEqual(await ids('name=sk-model&orderBy=CreatedAtDesc&count=1'), ['sk-model:3'], 'the latest version')
    assert.deepEqual(await ids('tags=stage=prod'), ['sk-model:3'])
    assert.deepEqual(await ids(`tags=${encodeURIComponent('team,stage=dev')}&orderBy=CreatedAtAsc`), ['sk-model:1', 'sk-model:2'])
    assert.deepEqual(await ids('tags=missing'), [])
    assert.deepEqual(await ids(`properties=${encodeURIComponent('metric.accuracy=0.82')}`), ['sk-model:3'])
    assert.deepEqual(await ids('framework=scikitlearn&orderBy=CreatedAtAsc'), ['sk-model:1', 'sk-model:2', 'sk-model:3'])
    assert.deepEqual((await ids(`runId=${runId}`)).length, 4)
    assert.deepEqual(await ids('runId=someone-else'), [])
    assert.deepEqual(await ids('name=sk-model&description=take%202'), ['sk-model:2'])
  })

  it('pages through nextLink (absolute, with $skipToken) with the default page size and with count', async () => {
    const walk = async (first: string): Promise<{ ids: string[]; pages: number }> => {
      const ids: string[] = []
      let url: string | undefined = first
      let pages = 0
      while (url) {
        const res = await mm('GET', url)
        assert.equal(res.status, 200, JSON.stringify(res.body))
        validateResponse(MM, `${M}/models`, 'GET', 200, res.body, { strict: true })
        ids.push(...res.body.value.map((m: { id: string }) => m.id))
        url = res.body.nextLink
        if (url) assert.match(url, new RegExp(`^${emulator.url}/modelmanagement/v1\\.0/subscriptions/.+/models\\?.*%24skipToken=`))
        pages++
      }
      return { ids, pages }
    }
    const all = await walk('/models?orderBy=CreatedAtAsc')
    assert.deepEqual(all.ids, ['sk-model:1', 'sk-model:2', 'sk-model:3', 'other.model_v2-x:1'])
    assert.equal(all.pages, 2, 'pageSize 2')
    const byOne = await walk('/models?orderBy=CreatedAtAsc&count=1')
    assert.deepEqual(byOne.ids, all.ids)
    assert.equal(byOne.pages, 4)
    modelError(await mm('GET', '/models?$skipToken=garbage'), 400, 'BadRequest')
    modelError(await mm('GET', '/models?count=0'), 400, 'BadRequest', 'InvalidQueryParameter')
    modelError(await mm('GET', '/models?orderBy=Newest'), 400, 'BadRequest', 'InvalidQueryParameter')
  })

  it('rejects a model without name, url or mimeType, a bad name and a url that is not an existing asset', async () => {
    const assetId = await createAsset(`ExperimentRun/dcid.${runId}/outputs/weights`)
    const base = { name: 'ok', url: `aml://asset/${assetId}`, mimeType: 'application/octet-stream' }
    for (const field of ['name', 'url', 'mimeType'] as const) {
      const { [field]: _, ...rest } = base
      const body = modelError(await mm('POST', '/models', rest), 400, 'BadRequest', 'MissingRequiredField')
      assert.equal(body.details[0].target, field)
      assert.match(body.message, new RegExp(`'${field}' is required`))
    }
    for (const name of ['-leading-dash', 'has space', 'a/b', 'x'.repeat(256)]) {
      modelError(await mm('POST', '/models', { ...base, name }), 400, 'BadRequest', 'InvalidModelName')
    }
    const badUrl = modelError(await mm('POST', '/models', { ...base, url: `ExperimentRun/dcid.${runId}/outputs/model.json` }), 400, 'BadRequest', 'InvalidModelUrl')
    assert.match(badUrl.message, /aml:\/\/asset\/\{assetId\}/)
    const noAsset = modelError(await mm('POST', '/models', { ...base, url: 'aml://asset/0123456789abcdef0123456789abcdef' }), 400, 'BadRequest', 'AssetNotFound')
    assert.match(noAsset.message, /asset '0123456789abcdef0123456789abcdef', which does not exist/)
    modelError(await mm('POST', '/models', { ...base, kvTags: { n: 1 } }), 400, 'BadRequest', 'InvalidField')
    modelError(await mm('POST', '/models', { ...base, unpack: 'no' }), 400, 'BadRequest', 'InvalidField')
    modelError(await mm('POST', '/models', '[1]'), 400, 'BadRequest', 'InvalidRequestBody')
    // Nothing half-registered: the name 'ok' has no version yet.
    assert.equal((await register('ok', assetId)).body.version, 1)
  })

  it('GETs an unknown model as 404; DELETE answers 200, then 204; versions are not reused', async () => {
    const missing = modelError(await mm('GET', '/models/nope:1'), 404, 'NotFound', 'ModelNotFound')
    assert.equal(missing.message, 'Model with id nope:1 was not found.')
    const assetId = await createAsset(`ExperimentRun/dcid.${runId}/outputs/model.json`)
    assert.equal((await register('short-lived', assetId)).body.id, 'short-lived:1')
    const deleted = await mm('DELETE', '/models/short-lived:1')
    assert.equal(deleted.status, 200)
    assert.equal(deleted.body, undefined)
    assert.equal((await mm('DELETE', '/models/short-lived:1')).status, 204)
    modelError(await mm('GET', '/models/short-lived:1'), 404, 'NotFound')
    assert.equal((await register('short-lived', assetId)).body.id, 'short-lived:2')
  })

  it('answers auth failures and unknown workspaces as ModelErrorResponse', async () => {
    const anonymous = modelError(await mm('GET', '/models', undefined, null), 401, 'AuthenticationFailed')
    assert.deepEqual(anonymous.details, [])
    const noRole = await getToken(emulator, emulator.identity.noRole)
    modelError(await mm('GET', '/models', undefined, noRole), 403, 'AuthorizationFailed')
    const other = await mm('GET', dataPlaneUrl(emulator, 'modelmanagement/v1.0', '/models').replace('/workspaces/local-ws', '/workspaces/other-ws'))
    modelError(other, 404, 'NotFound', 'WorkspaceNotFound')
    const noRoute = await mm('GET', '/nothing-here')
    modelError(noRoute, 404, 'NotFound')
  })
})

describe('run history lists', () => {
  const RH_0501 = 'data-plane-2019-05-01/runHistory.json'
  const H = '/history/v1.0/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}'
  const get = async (url: string): Promise<any> => {
    const res = await fetch(url.startsWith('http') ? url : dataPlaneUrl(emulator, 'history/v1.0', url), { headers: { Authorization: `Bearer ${token}` } })
    const body = await res.json()
    assert.equal(res.status, 200, JSON.stringify(body))
    return body
  }
  const walk = async (first: string): Promise<string[]> => {
    const ids: string[] = []
    let url: string | null = first
    while (url) {
      const page: { value: Array<{ runId?: string; name?: string }>; nextLink: string | null; continuationToken: string | null } = await get(url)
      validateResponse(RH_0501, `${H}/experiments/{experimentName}/runs`, 'GET', 200, page)
      ids.push(...page.value.map(v => v.runId ?? v.name ?? ''))
      url = page.nextLink
      if (url) assert.ok(page.continuationToken && url.includes('%24continuationtoken='))
    }
    return ids
  }

  before(async () => {
    for (const id of ['hist_a', 'hist_b', 'hist_c']) {
      const res = await fetch(dataPlaneUrl(emulator, 'history/v1.0', `/experiments/list-exp/runs/${id}`), {
        method: 'PATCH',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ runId: id, status: 'Running' })
      })
      assert.equal(res.status, 200)
    }
  })

  it('lists runs newest first by default, or as $orderby says, page by page', async () => {
    assert.deepEqual(await walk('/experiments/list-exp/runs'), ['hist_c', 'hist_b', 'hist_a'])
    assert.deepEqual(await walk(`/experiments/list-exp/runs?$orderby=${encodeURIComponent('CreatedUtc desc')}`), ['hist_c', 'hist_b', 'hist_a'])
    assert.deepEqual(await walk(`/experiments/list-exp/runs?$orderby=${encodeURIComponent('CreatedUtc asc')}`), ['hist_a', 'hist_b', 'hist_c'])
    assert.deepEqual(await walk(`/experiments/list-exp/runs?$orderby=${encodeURIComponent('RunId desc')}&$top=2`), ['hist_c', 'hist_b'])
    // The action's way: the page's continuationToken sent back as the contract's $continuationtoken.
    const first = await get('/experiments/list-exp/runs')
    const second = await get(`/experiments/list-exp/runs?$continuationtoken=${encodeURIComponent(first.continuationToken)}`)
    assert.deepEqual([...first.value, ...second.value].map((r: { runId: string }) => r.runId), ['hist_c', 'hist_b', 'hist_a'])
    // Any other spelling is a query parameter Azure does not know and ignores: the first page again.
    for (const name of ['continuationToken', 'continuationtoken']) {
      const again = await get(`/experiments/list-exp/runs?${name}=${encodeURIComponent(first.continuationToken)}`)
      assert.deepEqual(again.value.map((r: { runId: string }) => r.runId), first.value.map((r: { runId: string }) => r.runId), name)
    }
    const bad = await fetch(dataPlaneUrl(emulator, 'history/v1.0', '/experiments/list-exp/runs?$orderby=Colour'), { headers: { Authorization: `Bearer ${token}` } })
    assert.equal(bad.status, 400)
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'ValidationError')
  })

  it('lists experiments page by page, in $orderby order', async () => {
    const names: string[] = []
    let url: string | null = `/experiments?$orderby=${encodeURIComponent('Name desc')}`
    while (url) {
      const page: { value: Array<{ name: string }>; nextLink: string | null } = await get(url)
      names.push(...page.value.map(e => e.name))
      url = page.nextLink
    }
    assert.deepEqual(names, ['models-exp', 'list-exp'])
  })
})
