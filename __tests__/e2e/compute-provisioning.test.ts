/**
 * create-compute when ARM answers the PUT without any long-running-operation header (no
 * Azure-AsyncOperation, no Location) while the compute is still Creating: the action watches the compute
 * itself until it is provisioned or failed. A proxy in front of the local Azure ML service's ARM endpoint
 * removes the headers; the service provisions the compute as usual.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { Emulator } from '../../emulator/index.js'
import { emulatorsFor, errorText, runAgainst } from '../helpers/e2e.js'
import { rewritingProxy } from '../helpers/rewriting-proxy.js'

const emulators = emulatorsFor({ runPhaseDelayMs: 50 })
const proxies: Array<{ close(): Promise<void> }> = []
after(async () => {
  await Promise.all(proxies.map(p => p.close()))
  await emulators.closeAll()
})

/** An ARM endpoint whose compute PUTs answer without Azure-AsyncOperation, Location or Retry-After. */
async function armWithoutOperationHeaders(emulator: Emulator): Promise<string> {
  const proxy = await rewritingProxy(emulator.url, {
    responseHeaders: (method, url, _status, headers) => {
      if (method !== 'PUT' || !/\/computes\/[^/]+$/.test(url.pathname)) return
      for (const name of ['azure-asyncoperation', 'location', 'retry-after']) delete headers[name]
    }
  })
  proxies.push(proxy)
  return proxy.url
}

const computeReads = (requests: Emulator['requests'], name: string) => requests.filter(r => r.method === 'GET' && r.path.endsWith(`/computes/${name}`))

describe('create-compute without an operation header (bundled action)', { concurrency: 3 }, () => {
  it('polls the compute until it is provisioned', async () => {
    const emulator = await emulators.start({ provisioningDelayMs: 2500 })
    const arm = await armWithoutOperationHeaders(emulator)
    const run = await runAgainst(emulator, { operation: 'create-compute', 'compute-name': 'e2e-bare', 'resource-manager-endpoint': arm, 'max-nodes': '2' })
    assert.equal(run.code, 0, run.stdout)
    const put = run.requests.find(r => r.method === 'PUT' && r.path.endsWith('/computes/e2e-bare'))
    assert.equal(put?.status, 201)
    assert.ok(!run.requests.some(r => /operationStatuses|operationResults/.test(r.path)), 'there was no operation URL to follow')
    assert.ok(computeReads(run.requests, 'e2e-bare').length >= 2, 'read the compute until it was provisioned')
    assert.match(run.stdout, /compute 'e2e-bare': Creating/)
    assert.equal((JSON.parse(run.outputs.result) as { provisioningState: string }).provisioningState, 'Succeeded')
  })

  it('fails with the compute\'s provisioning errors when provisioning fails', async () => {
    const emulator = await emulators.start({ provisioningDelayMs: 1200 })
    const arm = await armWithoutOperationHeaders(emulator)
    const run = await runAgainst(emulator, { operation: 'create-compute', 'compute-name': 'e2e-bare-huge', 'resource-manager-endpoint': arm, 'vm-size': 'STANDARD_DS3_V2', 'max-nodes': '100' })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /creating compute 'e2e-bare-huge': provisioning ended Failed: QuotaExceeded: Operation results in exceeding quota limits/)
  })

  it('gives up at timeout-minutes, saying provisioning goes on', async () => {
    const emulator = await emulators.start({ provisioningDelayMs: 60_000 })
    const arm = await armWithoutOperationHeaders(emulator)
    const run = await runAgainst(emulator, { operation: 'create-compute', 'compute-name': 'e2e-bare-slow', 'resource-manager-endpoint': arm, 'timeout-minutes': '0.05' })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /creating compute 'e2e-bare-slow': still Creating after 3 s; giving up waiting \(provisioning goes on in Azure\)/)
    assert.match(errorText(run), /Set timeout-minutes to wait longer/)
  })
})
