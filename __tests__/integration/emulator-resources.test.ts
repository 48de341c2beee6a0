import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { validateResponse } from '../helpers/contract.js'
import { getToken, pollRun, submit, workspacePath } from '../helpers/emulator-client.js'

const ARM = 'arm-2019-11-01/machineLearningServices.json'
const WS_TEMPLATE = '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}'
const COMPUTE_TEMPLATE = `${WS_TEMPLATE}/computes/{computeName}`
const V = 'api-version=2019-11-01'

let emulator: Emulator
let token: string
let sub: string
before(async () => {
  emulator = await startEmulator({ port: 0, pageSize: 2, runPhaseDelayMs: 10, provisioningDelayMs: 300 })
  token = await getToken(emulator)
  sub = `/subscriptions/${emulator.identity.subscriptionId}`
})
after(() => emulator.close())

interface Answer {
  status: number
  body: any
  headers: Headers
}

async function arm(method: string, pathOrUrl: string, body?: unknown, bearer = token): Promise<Answer> {
  const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${emulator.url}${pathOrUrl}`
  const res = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers }
}

/** Follows nextLink to the end; returns every item's name and the number of pages. */
async function walk(first: string, template?: string): Promise<{ names: string[]; pages: number }> {
  const names: string[] = []
  let url: string | undefined = first
  let pages = 0
  while (url) {
    const res = await arm('GET', url)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    if (template) validateResponse(ARM, template, 'GET', 200, res.body, { strict: true })
    names.push(...res.body.value.map((x: { name: string }) => x.name))
    url = res.body.nextLink
    if (url) assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/subscriptions\/.+%24skiptoken=/)
    pages++
  }
  return { names, pages }
}

function armId(rg: string, type: string, name: string): string {
  return `${sub}/resourceGroups/${rg}/providers/${type}/${name}`
}

function workspaceBody(rg: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    location: 'eastus',
    identity: { type: 'SystemAssigned' },
    properties: {
      friendlyName: 'Created by a test',
      description: 'from emulator-resources',
      storageAccount: armId(rg, 'Microsoft.Storage/storageAccounts', 'teststore'),
      keyVault: armId(rg, 'Microsoft.KeyVault/vaults', 'testkv'),
      applicationInsights: armId(rg, 'microsoft.insights/components', 'testai'),
      containerRegistry: armId(rg, 'Microsoft.ContainerRegistry/registries', 'testacr'),
      ...extra
    }
  }
}

/** Polls an ARM Location URL until it stops answering 202; returns every status seen and the last answer. */
async function followLocation(url: string): Promise<{ statuses: number[]; last: Answer }> {
  const statuses: number[] = []
  for (let i = 0; i < 100; i++) {
    const res = await arm('GET', url)
    statuses.push(res.status)
    if (res.status !== 202) return { statuses, last: res }
    assert.equal(res.headers.get('retry-after'), '1')
    await sleep(50)
  }
  throw new Error('the operation never finished')
}

/** Polls an Azure-AsyncOperation URL until a terminal status; returns the statuses seen and the last body. */
async function followAsyncOperation(url: string): Promise<{ statuses: string[]; last: any }> {
  const statuses: string[] = []
  for (let i = 0; i < 100; i++) {
    const res = await arm('GET', url)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    if (statuses.at(-1) !== res.body.status) statuses.push(res.body.status)
    if (res.body.status !== 'InProgress') return { statuses, last: res.body }
    await sleep(50)
  }
  throw new Error('the operation never finished')
}

describe('ARM: resource groups and workspace lists', () => {
  it('lists the resource groups page by page, for each accepted api-version and casing', async () => {
    const all = await walk(`${sub}/resourcegroups?api-version=2019-10-01`)
    assert.deepEqual(all.names, ['local-rg', 'ml-dev-rg', 'ml-prod-rg', 'ml-shared-rg', 'networking-rg'])
    assert.equal(all.pages, 3)
    const first = await arm('GET', `${sub}/resourceGroups?api-version=2021-04-01`)
    assert.deepEqual(first.body.value[0], {
      id: `${sub}/resourceGroups/local-rg`,
      name: 'local-rg',
      type: 'Microsoft.Resources/resourceGroups',
      location: 'eastus',
      properties: { provisioningState: 'Succeeded' }
    })
    for (const v of ['2019-11-01', '2020-06-01']) assert.equal((await arm('GET', `${sub}/resourcegroups?api-version=${v}`)).status, 200)
    const bad = await arm('GET', `${sub}/resourcegroups?api-version=2030-01-01`)
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error.code, 'InvalidApiVersionParameter')
    assert.equal((await arm('GET', `${sub}/resourcegroups`)).body.error.code, 'MissingApiVersionParameter')
    const noRole = await arm('GET', `${sub}/resourcegroups?api-version=2021-04-01`, undefined, await getToken(emulator, emulator.identity.noRole))
    assert.equal(noRole.status, 403)
    assert.equal(noRole.body.error.code, 'AuthorizationFailed')
    const unknown = await arm('GET', '/subscriptions/00000000-0000-4000-8000-000000000000/resourcegroups?api-version=2021-04-01')
    assert.equal(unknown.body.error.code, 'SubscriptionNotFound')
  })

  it('lists workspaces of the subscription and of a resource group (WorkspaceListResult)', async () => {
    const path = `${sub}/providers/Microsoft.MachineLearningServices/workspaces`
    const bySub = await walk(`${path}?${V}`, `/subscriptions/{subscriptionId}/providers/Microsoft.MachineLearningServices/workspaces`)
    assert.ok(bySub.names.includes('local-ws'))
    const byRg = await walk(`${sub}/resourceGroups/local-rg/providers/Microsoft.MachineLearningServices/workspaces?${V}`, `/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces`)
    assert.deepEqual(byRg.names, ['local-ws'])
    const empty = await arm('GET', `${sub}/resourceGroups/ml-dev-rg/providers/Microsoft.MachineLearningServices/workspaces?${V}`)
    assert.deepEqual(empty.body, { value: [] })
    assert.equal((await arm('GET', `${sub}/resourceGroups/nope-rg/providers/Microsoft.MachineLearningServices/workspaces?${V}`)).body.error.code, 'ResourceGroupNotFound')
  })
})

describe('ARM: creating workspaces (long-running)', () => {
  it('202 + Location → 202 … → 200; the workspace then shows Succeeded, serves the data plane and pages in the lists', async () => {
    const path = `${sub}/resourceGroups/ml-dev-rg/providers/Microsoft.MachineLearningServices/workspaces/dev-ws`
    const put = await arm('PUT', `${path}?${V}`, workspaceBody('ml-dev-rg'))
    assert.equal(put.status, 202, JSON.stringify(put.body))
    validateResponse(ARM, WS_TEMPLATE, 'PUT', 202, put.body, { strict: true })
    assert.equal(put.body.properties.provisioningState, 'Creating')
    assert.equal(put.body.properties.discoveryUrl, undefined)
    assert.equal(put.headers.get('retry-after'), '1')
    const location = put.headers.get('location') ?? ''
    assert.match(location, new RegExp(`^${emulator.url}/subscriptions/.+/providers/Microsoft\\.MachineLearningServices/locations/eastus/operationResults/[0-9a-f-]{36}\\?api-version=2019-11-01$`))

    const during = await arm('GET', `${path}?${V}`)
    assert.equal(during.body.properties.provisioningState, 'Creating')
    const dataPlane = `${emulator.url}/history/v1.0${path}/experiments`
    assert.equal((await fetch(dataPlane, { headers: { Authorization: `Bearer ${token}` } })).status, 404, 'no data plane before it is provisioned')

    const { statuses, last } = await followLocation(location)
    assert.equal(statuses[0], 202)
    assert.equal(statuses.at(-1), 200)
    validateResponse(ARM, WS_TEMPLATE, 'PUT', 200, last.body, { strict: true })
    assert.equal(last.body.properties.provisioningState, 'Succeeded')

    const ws = await arm('GET', `${path}?${V}`)
    validateResponse(ARM, WS_TEMPLATE, 'GET', 200, ws.body, { strict: true })
    assert.equal(ws.body.properties.provisioningState, 'Succeeded')
    assert.equal(ws.body.properties.discoveryUrl, `${emulator.url}/discovery`)
    assert.equal(ws.body.properties.friendlyName, 'Created by a test')
    assert.equal(ws.body.properties.storageAccount, armId('ml-dev-rg', 'Microsoft.Storage/storageAccounts', 'teststore'))
    assert.match(ws.body.properties.workspaceId, /^[0-9a-f-]{36}$/)
    assert.equal((await fetch(dataPlane, { headers: { Authorization: `Bearer ${token}` } })).status, 200)

    const listed = await walk(`${sub}/providers/Microsoft.MachineLearningServices/workspaces?${V}`)
    assert.deepEqual(listed.names, ['local-ws', 'dev-ws'])

    // PUT again: an update, answered at once.
    const update = await arm('PUT', `${path}?${V}`, { location: 'East US', properties: { friendlyName: 'Renamed', description: 'new text' } })
    assert.equal(update.status, 200, JSON.stringify(update.body))
    validateResponse(ARM, WS_TEMPLATE, 'PUT', 200, update.body, { strict: true })
    assert.equal(update.body.properties.friendlyName, 'Renamed')
    assert.equal(update.body.properties.description, 'new text')
    const move = await arm('PUT', `${path}?${V}`, { location: 'westus', properties: {} })
    assert.equal(move.body.error.code, 'InvalidResourceLocation')
    const relink = await arm('PUT', `${path}?${V}`, { location: 'eastus', properties: { keyVault: armId('ml-dev-rg', 'Microsoft.KeyVault/vaults', 'otherkv') } })
    assert.equal(relink.status, 400)
    assert.match(relink.body.error.message, /properties\.keyVault cannot be changed/)
  })

  it('ends Failed when a linked resource group does not exist: the Location answers 404 LinkedResourceNotFound', async () => {
    const path = `${sub}/resourceGroups/ml-prod-rg/providers/Microsoft.MachineLearningServices/workspaces/broken-ws`
    const storage = armId('missing-rg', 'Microsoft.Storage/storageAccounts', 'ghoststore')
    const put = await arm('PUT', `${path}?${V}`, workspaceBody('ml-prod-rg', { storageAccount: storage }))
    assert.equal(put.status, 202)
    const { statuses, last } = await followLocation(put.headers.get('location') ?? '')
    assert.equal(statuses.at(-1), 404)
    validateResponse(ARM, WS_TEMPLATE, 'PUT', 404, last.body, { strict: true })
    assert.equal(last.body.error.code, 'LinkedResourceNotFound')
    assert.equal(
      last.body.error.message,
      `Creating workspace 'broken-ws' failed. The linked resource '${storage}' (properties.storageAccount) was not found: resource group 'missing-rg' could not be found.`
    )
    assert.deepEqual(last.body.error.details, [{ code: 'ResourceGroupNotFound', message: "Resource group 'missing-rg' could not be found." }])
    const ws = await arm('GET', `${path}?${V}`)
    assert.equal(ws.body.properties.provisioningState, 'Failed')
  })

  it('rejects a body without location, a missing or malformed linked resource and an unknown region', async () => {
    const path = `${sub}/resourceGroups/ml-dev-rg/providers/Microsoft.MachineLearningServices/workspaces/invalid-ws?${V}`
    const check = async (body: unknown, status: number, code: string, message?: RegExp): Promise<void> => {
      const res = await arm('PUT', path, body)
      assert.equal(res.status, status, JSON.stringify(res.body))
      validateResponse(ARM, WS_TEMPLATE, 'PUT', status, res.body, { strict: true })
      assert.equal(res.body.error.code, code)
      if (message) assert.match(res.body.error.message, message)
    }
    const { location: _, ...noLocation } = workspaceBody('ml-dev-rg')
    await check(noLocation, 400, 'LocationRequired')
    await check({ ...workspaceBody('ml-dev-rg'), location: 'moon' }, 400, 'LocationNotAvailableForResourceType', /'moon'/)
    await check(workspaceBody('ml-dev-rg', { keyVault: undefined }), 400, 'BadRequest', /^properties\.keyVault is required/)
    await check(workspaceBody('ml-dev-rg', { applicationInsights: undefined }), 400, 'BadRequest', /^properties\.applicationInsights is required/)
    await check(workspaceBody('ml-dev-rg', { storageAccount: armId('ml-dev-rg', 'Microsoft.KeyVault/vaults', 'kv') }), 400, 'BadRequest', /^properties\.storageAccount '.+' is not a valid ARM resource id of type Microsoft\.Storage\/storageAccounts/)
    await check(workspaceBody('ml-dev-rg', { containerRegistry: 'teststore' }), 400, 'BadRequest', /^properties\.containerRegistry/)
    await check('{"location":', 400, 'InvalidRequestContent')
    const badName = await arm('PUT', `${sub}/resourceGroups/ml-dev-rg/providers/Microsoft.MachineLearningServices/workspaces/x?${V}`, workspaceBody('ml-dev-rg'))
    assert.equal(badName.body.error.code, 'InvalidResourceName')
    assert.equal((await arm('PUT', path.replace('ml-dev-rg', 'nope-rg'), workspaceBody('ml-dev-rg'))).body.error.code, 'ResourceGroupNotFound')
    assert.equal((await arm('GET', path)).status, 404, 'nothing was created')
  })
})

describe('ARM: creating and deleting computes (long-running)', () => {
  const computes = (): string => `${workspacePath(emulator)}/computes`
  const amlCompute = (vmSize: string, maxNodeCount: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    location: 'eastus',
    properties: {
      computeType: 'AmlCompute',
      description: 'test cluster',
      properties: { vmSize, vmPriority: 'Dedicated', scaleSettings: { maxNodeCount, minNodeCount: 0, nodeIdleTimeBeforeScaleDown: 'PT5M' }, ...extra }
    }
  })

  it('201 + Azure-AsyncOperation → InProgress → Succeeded; a run on the new compute then completes', async () => {
    const put = await arm('PUT', `${computes()}/gpu-new?${V}`, amlCompute('STANDARD_NC6', 2))
    assert.equal(put.status, 201, JSON.stringify(put.body))
    validateResponse(ARM, COMPUTE_TEMPLATE, 'PUT', 201, put.body, { strict: true })
    assert.equal(put.body.properties.provisioningState, 'Creating')
    assert.equal(put.headers.get('retry-after'), '1')
    const operation = put.headers.get('azure-asyncoperation') ?? ''
    assert.match(operation, new RegExp(`^${emulator.url}/subscriptions/.+/locations/eastus/operationStatuses/[0-9a-f-]{36}\\?api-version=2019-11-01$`))

    const first = await arm('GET', operation)
    assert.equal(first.body.status, 'InProgress')
    assert.match(first.body.startTime, /^\d{4}-/)
    assert.equal(first.headers.get('retry-after'), '1')
    const { statuses, last } = await followAsyncOperation(operation)
    assert.deepEqual(statuses.at(-1), 'Succeeded')
    assert.equal(last.error, undefined)
    assert.match(last.endTime, /^\d{4}-/)

    const compute = await arm('GET', `${computes()}/gpu-new?${V}`)
    validateResponse(ARM, COMPUTE_TEMPLATE, 'GET', 200, compute.body, { strict: true })
    assert.equal(compute.body.properties.provisioningState, 'Succeeded')
    assert.equal(compute.body.properties.properties.vmSize, 'STANDARD_NC6')
    assert.deepEqual(compute.body.properties.properties.scaleSettings, { maxNodeCount: 2, minNodeCount: 0, nodeIdleTimeBeforeScaleDown: 'PT5M' })

    const runId = await submit(emulator, token, { experiment: 'on-new-compute', files: { 'a.py': 'print("hi")' }, definition: { configuration: { script: 'a.py', target: 'gpu-new' } } })
    const { run } = await pollRun(emulator, token, 'on-new-compute', runId)
    assert.equal(run.status, 'Completed')
    assert.equal(run.target, 'gpu-new')

    // PUT again: new scale settings, answered at once.
    const update = await arm('PUT', `${computes()}/gpu-new?${V}`, amlCompute('Standard_NC6', 3))
    assert.equal(update.status, 200, JSON.stringify(update.body))
    validateResponse(ARM, COMPUTE_TEMPLATE, 'PUT', 200, update.body, { strict: true })
    assert.equal(update.body.properties.properties.scaleSettings.maxNodeCount, 3)
    const resize = await arm('PUT', `${computes()}/gpu-new?${V}`, amlCompute('STANDARD_D2_V2', 3))
    assert.match(resize.body.error.message, /vmSize of compute 'gpu-new' cannot be changed/)
  })

  it('a run on a compute that is still Creating waits Queued until it is provisioned; if provisioning fails, so does the run', async () => {
    // Azure ML queues a run until its cluster can take it, rather than failing it.
    emulator.configure({ provisioningDelayMs: 4000 })
    try {
      const put = await arm('PUT', `${computes()}/slow-one?${V}`, amlCompute('STANDARD_D2_V2', 1))
      assert.equal(put.status, 201)
      const runId = await submit(emulator, token, { experiment: 'too-early', files: { 'a.py': 'print("hi")' }, definition: { configuration: { script: 'a.py', target: 'slow-one' } } })
      await pollRun(emulator, token, 'too-early', runId, s => s === 'Queued')
      const again = await arm('PUT', `${computes()}/slow-one?${V}`, amlCompute('STANDARD_D2_V2', 1))
      assert.equal(again.status, 409)
      await new Promise(r => setTimeout(r, 300))
      assert.equal((await arm('GET', `${computes()}/slow-one?${V}`)).body.properties.provisioningState, 'Creating')
      assert.equal(emulator.getRun(runId)?.status, 'Queued', 'still waiting for the compute')
      const { run } = await pollRun(emulator, token, 'too-early', runId)
      assert.equal(run.status, 'Completed', JSON.stringify(run.error))
      const provisioned = Date.parse((await arm('GET', `${computes()}/slow-one?${V}`)).body.properties.modifiedOn)
      const running = emulator.getRun(runId)?.statusHistory.find(s => s.status === 'Running')
      assert.ok(running && Date.parse(running.time) >= provisioned, 'Running only once the compute was Succeeded')

      // Over the core quota: provisioning ends Failed, and the run waiting for it fails with the reason.
      emulator.configure({ provisioningDelayMs: 1000 })
      assert.equal((await arm('PUT', `${computes()}/never-ready?${V}`, amlCompute('STANDARD_NC6', 20))).status, 201)
      const doomed = await submit(emulator, token, { experiment: 'too-early', files: { 'a.py': 'print("hi")' }, definition: { configuration: { script: 'a.py', target: 'never-ready' } } })
      const failed = (await pollRun(emulator, token, 'too-early', doomed)).run
      assert.equal(failed.status, 'Failed')
      assert.match((failed.error as { error: { message: string } }).error.message, /^AzureMLCompute cluster never-ready failed to provision: Operation results in exceeding quota limits/)
      assert.ok(!emulator.getRun(doomed)?.statusHistory.some(s => s.status === 'Running'))
      assert.equal((await arm('DELETE', `${computes()}/never-ready?${V}&underlyingResourceAction=Delete`)).status, 202)
    } finally {
      emulator.configure({ provisioningDelayMs: 300 })
    }
  })

  it('over the core quota: the operation ends Failed with QuotaExceeded and the compute shows provisioningErrors', async () => {
    const put = await arm('PUT', `${computes()}/too-big?${V}`, amlCompute('STANDARD_NC6', 20))
    assert.equal(put.status, 201)
    const { last } = await followAsyncOperation(put.headers.get('azure-asyncoperation') ?? '')
    assert.equal(last.status, 'Failed')
    assert.equal(last.error.code, 'QuotaExceeded')
    assert.match(last.error.message, /^Operation results in exceeding quota limits of Total Regional Dedicated vCPUs in eastus\. Maximum allowed: 100, Current in use: \d+, Additional requested: 120\./)
    const compute = await arm('GET', `${computes()}/too-big?${V}`)
    validateResponse(ARM, COMPUTE_TEMPLATE, 'GET', 200, compute.body, { strict: true })
    assert.equal(compute.body.properties.provisioningState, 'Failed')
    assert.deepEqual(compute.body.properties.provisioningErrors, [{ error: last.error }])
  })

  it('rejects an unknown vmSize, a bad name, another location, bad scale settings and a missing computeType', async () => {
    const check = async (name: string, body: unknown, message: RegExp, code = 'BadRequest'): Promise<void> => {
      const res = await arm('PUT', `${computes()}/${name}?${V}`, body)
      assert.equal(res.status, 400, JSON.stringify(res.body))
      validateResponse(ARM, COMPUTE_TEMPLATE, 'PUT', 400, res.body, { strict: true })
      assert.equal(res.body.error.code, code)
      assert.match(res.body.error.message, message)
    }
    await check('new-one', amlCompute('Standard_Z99', 1), /^The specified vm size 'Standard_Z99' is not supported in location 'eastus'\. Supported sizes include: .*STANDARD_DS3_V2/)
    await check('1starts-with-digit', amlCompute('STANDARD_D2_V2', 1), /^Compute name '1starts-with-digit' is invalid/)
    await check('way-too-long-name-x', amlCompute('STANDARD_D2_V2', 1), /is invalid/)
    await check('new-one', { ...amlCompute('STANDARD_D2_V2', 1), location: 'westus' }, /must be the location of workspace 'local-ws', 'eastus'/)
    await check('new-one', amlCompute('STANDARD_D2_V2', 1, { scaleSettings: { minNodeCount: 3, maxNodeCount: 1 } }), /minNodeCount \(3\) must not exceed scaleSettings\.maxNodeCount \(1\)/)
    await check('new-one', amlCompute('STANDARD_D2_V2', 1, { scaleSettings: { minNodeCount: 0 } }), /scaleSettings\.maxNodeCount is required/)
    await check('new-one', amlCompute('STANDARD_D2_V2', 1, { scaleSettings: { maxNodeCount: 1, nodeIdleTimeBeforeScaleDown: '5 minutes' } }), /not an ISO 8601 duration/)
    await check('new-one', { location: 'eastus', properties: { properties: {} } }, /^properties\.computeType is required/)
    await check('new-one', { location: 'eastus', properties: { computeType: 'Mainframe' } }, /^Compute type 'Mainframe' is not supported/)
    await check('new-one', { properties: {} }, /location property is required/, 'LocationRequired')
    assert.equal((await arm('GET', `${computes()}/new-one?${V}`)).status, 404)
  })

  it('DELETE needs underlyingResourceAction: 202 + Azure-AsyncOperation + Location, the compute is gone, then 204', async () => {
    const put = await arm('PUT', `${computes()}/doomed?${V}`, amlCompute('STANDARD_DS11_V2', 1))
    await followAsyncOperation(put.headers.get('azure-asyncoperation') ?? '')
    const missing = await arm('DELETE', `${computes()}/doomed?${V}`)
    assert.equal(missing.status, 400)
    assert.match(missing.body.error.message, /'underlyingResourceAction' is required/)
    const del = await arm('DELETE', `${computes()}/doomed?${V}&underlyingResourceAction=Delete`)
    assert.equal(del.status, 202)
    assert.equal(del.body, undefined)
    assert.equal(del.headers.get('retry-after'), '1')
    assert.equal((await arm('GET', `${computes()}/doomed?${V}`)).body.properties.provisioningState, 'Deleting')
    const { statuses } = await followLocation(del.headers.get('location') ?? '')
    assert.equal(statuses.at(-1), 204)
    assert.equal((await arm('GET', del.headers.get('azure-asyncoperation') ?? '')).body.status, 'Succeeded')
    assert.equal((await arm('GET', `${computes()}/doomed?${V}`)).status, 404)
    assert.equal((await arm('DELETE', `${computes()}/doomed?${V}&underlyingResourceAction=Detach`)).status, 204)
    const unknownOp = await arm('GET', `${sub}/providers/Microsoft.MachineLearningServices/locations/eastus/operationStatuses/00000000-0000-4000-8000-000000000000?${V}`)
    assert.equal(unknownOp.status, 404)
  })
})
