import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { validateResponse } from '../helpers/contract.js'
import { getToken, workspacePath } from '../helpers/emulator-client.js'

const ARM = 'arm-2019-11-01/machineLearningServices.json'
const WS_TEMPLATE = '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

let emulator: Emulator
let token: string
before(async () => {
  emulator = await startEmulator({ port: 0, pageSize: 1, computes: ['cpu-cluster', 'cpu-compute'] })
  token = await getToken(emulator)
})
after(() => emulator.close())

async function arm(path: string, query = 'api-version=2019-11-01', headers: Record<string, string> = {}): Promise<{ status: number; body: any; res: Response }> {
  const res = await fetch(`${emulator.url}${path}${query ? `?${query}` : ''}`, { headers: { Authorization: `Bearer ${token}`, ...headers } })
  return { status: res.status, body: await res.json(), res }
}

describe('ARM: workspace and computes', () => {
  it('GET workspace matches the contract and points discovery at the emulator', async () => {
    const { status, body, res } = await arm(workspacePath(emulator), 'api-version=2019-11-01', { 'x-ms-client-request-id': 'client-1' })
    assert.equal(status, 200)
    validateResponse(ARM, WS_TEMPLATE, 'GET', 200, body, { strict: true })
    assert.equal(body.id, workspacePath(emulator))
    assert.equal(body.name, 'local-ws')
    assert.equal(body.type, 'Microsoft.MachineLearningServices/workspaces')
    assert.equal(body.properties.discoveryUrl, `${emulator.url}/discovery`)
    assert.equal(body.properties.provisioningState, 'Succeeded')
    assert.equal(body.properties.workspaceId, emulator.identity.workspaceId)
    assert.match(res.headers.get('x-ms-request-id') ?? '', UUID)
    assert.match(res.headers.get('x-ms-correlation-request-id') ?? '', UUID)
    assert.equal(res.headers.get('x-ms-client-request-id'), 'client-1')
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8')
    assert.equal(emulator.requests.at(-1)?.clientRequestId, 'client-1')
  })

  it('accepts any casing of the path literals and newer api-versions', async () => {
    const path = workspacePath(emulator).replace('resourceGroups', 'resourcegroups').replace('Microsoft.MachineLearningServices', 'microsoft.machinelearningservices')
    assert.equal((await arm(path, 'api-version=2023-10-01')).status, 200)
  })

  it('lists the computes page by page (nextLink) and GETs one, all matching the contract', async () => {
    const first = await arm(`${workspacePath(emulator)}/computes`)
    assert.equal(first.status, 200)
    validateResponse(ARM, `${WS_TEMPLATE}/computes`, 'GET', 200, first.body, { strict: true })
    assert.equal(first.body.value.length, 1)
    const compute = first.body.value[0]
    assert.equal(compute.name, 'cpu-cluster')
    assert.equal(compute.properties.computeType, 'AmlCompute')
    assert.equal(compute.properties.provisioningState, 'Succeeded')
    assert.equal(compute.properties.properties.vmSize, 'Standard_DS3_v2')
    assert.match(first.body.nextLink, new RegExp(`^${emulator.url}/subscriptions/.+/computes\\?api-version=2019-11-01&%24skiptoken=`))
    const second = await fetch(first.body.nextLink, { headers: { Authorization: `Bearer ${token}` } })
    const secondBody = (await second.json()) as { value: Array<{ name: string }>; nextLink?: string }
    validateResponse(ARM, `${WS_TEMPLATE}/computes`, 'GET', 200, secondBody, { strict: true })
    assert.deepEqual(secondBody.value.map(c => c.name), ['cpu-compute'])
    assert.equal(secondBody.nextLink, undefined)
    const one = await arm(`${workspacePath(emulator)}/computes/CPU-CLUSTER`)
    assert.equal(one.status, 200)
    validateResponse(ARM, `${WS_TEMPLATE}/computes/{computeName}`, 'GET', 200, one.body, { strict: true })
    assert.equal(one.body.id, `${workspacePath(emulator)}/computes/cpu-cluster`)
  })

  it('the contract validator really rejects a wrong shape', () => {
    assert.throws(() => validateResponse(ARM, WS_TEMPLATE, 'GET', 200, { name: 42, properties: { provisioningState: 'Done' } }), /name: expected a string[\s\S]*provisioningState/)
    assert.throws(() => validateResponse(ARM, WS_TEMPLATE, 'GET', 200, { nmae: 'x' }, { strict: true }), /not declared/)
  })

  it('404s with ARM error codes for an unknown subscription, resource group, workspace and compute', async () => {
    const id = emulator.identity
    const cases: Array<[string, number, string, RegExp]> = [
      [`/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/local-rg/providers/Microsoft.MachineLearningServices/workspaces/local-ws`, 404, 'SubscriptionNotFound', /subscription '00000000-0000-4000-8000-000000000000' could not be found/],
      [`/subscriptions/${id.subscriptionId}/resourceGroups/nope-rg/providers/Microsoft.MachineLearningServices/workspaces/local-ws`, 404, 'ResourceGroupNotFound', /^Resource group 'nope-rg' could not be found\.$/],
      [
        `/subscriptions/${id.subscriptionId}/resourceGroups/local-rg/providers/Microsoft.MachineLearningServices/workspaces/nope-ws`,
        404,
        'ResourceNotFound',
        /^The Resource 'Microsoft\.MachineLearningServices\/workspaces\/nope-ws' under resource group 'local-rg' was not found\. For more details please go to https:\/\/aka\.ms\/ARMResourceNotFoundFix$/
      ],
      [`${workspacePath(emulator)}/computes/gpu-cluster`, 404, 'ResourceNotFound', /workspaces\/local-ws\/computes\/gpu-cluster' under resource group 'local-rg' was not found/]
    ]
    for (const [path, status, code, message] of cases) {
      const r = await arm(path)
      assert.equal(r.status, status, path)
      assert.equal(r.body.error.code, code)
      assert.match(r.body.error.message, message)
      validateResponse(ARM, WS_TEMPLATE, 'GET', r.status, r.body, { strict: true })
    }
  })

  it('400 for a missing or unsupported api-version', async () => {
    const missing = await arm(workspacePath(emulator), '')
    assert.equal(missing.status, 400)
    assert.deepEqual(missing.body, {
      error: { code: 'MissingApiVersionParameter', message: 'The api-version query parameter (?api-version=) is required for all requests.' }
    })
    const old = await arm(workspacePath(emulator), 'api-version=2018-03-01-preview')
    assert.equal(old.status, 400)
    assert.equal(old.body.error.code, 'NoRegisteredProviderFound')
    assert.match(old.body.error.message, /API version '2018-03-01-preview'.*The supported api-versions are '2019-11-01, /)
  })

  it('405 for an operation the emulator does not implement, and the request is logged', async () => {
    const res = await fetch(`${emulator.url}${workspacePath(emulator)}?api-version=2019-11-01`, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } })
    assert.equal(res.status, 405)
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'MethodNotAllowed')
    assert.equal(emulator.requests.at(-1)?.method, 'DELETE')
    assert.equal(emulator.requests.at(-1)?.status, 405)
  })
})

describe('discovery', () => {
  it('answers the flat service map, all on the emulator, to a valid token only', async () => {
    for (const headers of [{}, { Authorization: 'Bearer garbage' }] as Array<Record<string, string>>) assert.equal((await fetch(`${emulator.url}/discovery`, { headers })).status, 401)
    for (const headers of [{ Authorization: `Bearer ${token}` }]) {
      const res = await fetch(`${emulator.url}/discovery`, { headers })
      assert.equal(res.status, 200)
      const body = (await res.json()) as Record<string, string>
      assert.deepEqual(Object.keys(body).sort(), [
        'api',
        'catalog',
        'experimentation',
        'gallery',
        'history',
        'hyperdrive',
        'labeling',
        'modelmanagement',
        'pipelines',
        'studiocoreservices'
      ])
      for (const value of Object.values(body)) assert.equal(value, emulator.url)
    }
  })
})
