/**
 * list, create-compute and create-workspace through the bundled action, against the local Azure ML service:
 * every page followed, long-running operations followed to their end, and their failures.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { emulatorsFor, errorText, runAgainst } from '../helpers/e2e.js'

let emulator: Emulator
before(async () => {
  emulator = await startEmulator({ port: 0, runPhaseDelayMs: 50, pageSize: 2, provisioningDelayMs: 400 })
})
after(() => emulator.close())

const subscription = () => emulator.identity.subscriptionId
const armId = (rg: string, type: string, name: string) => `/subscriptions/${subscription()}/resourceGroups/${rg}/providers/${type}/${name}`

describe('list and resources (bundled action, local Azure ML service)', { concurrency: 3 }, () => {
  it('lists resource groups across pages, as JSON and as a table', async () => {
    const run = await runAgainst(emulator, { operation: 'list', resource: 'resource-groups' })
    assert.equal(run.code, 0, run.stdout)
    const groups = JSON.parse(run.outputs.result) as { name: string; location: string }[]
    assert.ok(groups.length >= 5, 'the seeded groups span several pages of 2')
    assert.ok(groups.some(g => g.name === 'local-rg'))
    const pages = run.requests.filter(r => /\/resourcegroups$/i.test(r.path)).length
    assert.ok(pages >= 3, `followed every page (${pages} requests)`)
    assert.match(run.stdout, /\| name \| location \| provisioningState \| id \|/)
    assert.match(run.summary, /resource-groups/)
  })

  it('lists workspaces of a resource group and of the subscription', async () => {
    const inGroup = await runAgainst(emulator, { operation: 'list', resource: 'workspaces' })
    assert.equal(inGroup.code, 0, inGroup.stdout)
    assert.deepEqual((JSON.parse(inGroup.outputs.result) as { name: string }[]).map(w => w.name), ['local-ws'])
    const all = await runAgainst(emulator, { operation: 'list', resource: 'workspaces', 'resource-group': '', 'workspace-name': '' })
    assert.equal(all.code, 0, all.stdout)
    assert.ok((JSON.parse(all.outputs.result) as { resourceGroup: string }[]).some(w => w.resourceGroup === 'local-rg'))
  })

  it('lists experiments, runs of an experiment, and computes', async () => {
    for (let i = 0; i < 3; i++) {
      const trained = await runAgainst(emulator, { 'experiment-name': 'e2e-listing', 'source-directory': 'examples', script: 'train.py', arguments: '--epochs\n1', 'compute-target': 'cpu-cluster', wait: i < 2 ? 'false' : 'true' })
      assert.equal(trained.code, 0, trained.stdout)
    }
    const experiments = JSON.parse((await runAgainst(emulator, { operation: 'list', resource: 'experiments' })).outputs.result) as { name: string }[]
    assert.ok(experiments.some(e => e.name === 'e2e-listing'))
    const runsRun = await runAgainst(emulator, { operation: 'list', resource: 'runs', 'experiment-name': 'e2e-listing' })
    const runs = JSON.parse(runsRun.outputs.result) as { runId: string; status: string; token?: string }[]
    assert.equal(runs.length, 3, 'all pages of runs')
    assert.ok(runs.every(r => r.runId.startsWith('e2e-listing_') && !('token' in r)), 'no run token is exported')
    const computes = JSON.parse((await runAgainst(emulator, { operation: 'list', resource: 'computes' })).outputs.result) as { name: string; vmSize: string }[]
    assert.ok(computes.some(c => c.name === 'cpu-cluster' && c.vmSize))
  })

  it('list without resource, or runs without an experiment, names the missing input', async () => {
    const noResource = await runAgainst(emulator, { operation: 'list' })
    assert.equal(noResource.code, 1)
    assert.match(errorText(noResource), /^Input 'resource': required for list; use one of: resource-groups, workspaces, experiments, runs, models, computes/)
    const noExperiment = await runAgainst(emulator, { operation: 'list', resource: 'runs' })
    assert.match(errorText(noExperiment), /^Input 'experiment-name': required for list runs/)
  })

  it('create-compute waits for provisioning, then the compute takes runs', async () => {
    const run = await runAgainst(emulator, { operation: 'create-compute', 'compute-name': 'e2e-gpu', 'vm-size': 'STANDARD_NC6', 'max-nodes': '2', 'idle-seconds-before-scale-down': '600' })
    assert.equal(run.code, 0, run.stdout)
    const compute = JSON.parse(run.outputs.result) as { name: string; provisioningState: string; location: string }
    assert.deepEqual([compute.name, compute.provisioningState, compute.location], ['e2e-gpu', 'Succeeded', 'eastus'])
    assert.match(run.stdout, /compute 'e2e-gpu': Succeeded/)
    assert.equal(run.requests.find(r => r.method === 'PUT' && r.path.endsWith('/computes/e2e-gpu'))?.status, 201)
    assert.ok(run.requests.some(r => /operationStatuses/.test(r.path)), 'followed the Azure-AsyncOperation URL')
    const trained = await runAgainst(emulator, { 'experiment-name': 'e2e-on-gpu', 'source-directory': 'examples', script: 'train.py', arguments: '--epochs\n1', 'compute-target': 'e2e-gpu' })
    assert.equal(trained.outputs['run-status'], 'Completed')
  })

  it('create-compute over the core quota fails with the operation\'s error', async () => {
    const run = await runAgainst(emulator, { operation: 'create-compute', 'compute-name': 'e2e-huge', 'vm-size': 'STANDARD_DS3_V2', 'max-nodes': '100' })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /creating compute 'e2e-huge': the operation ended Failed: QuotaExceeded: Operation results in exceeding quota limits/)
  })

  it('create-compute with an unsupported VM size is refused by ARM', async () => {
    const run = await runAgainst(emulator, { operation: 'create-compute', 'compute-name': 'e2e-odd', 'vm-size': 'STANDARD_Z99' })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /HTTP 400 BadRequest: The specified vm size 'STANDARD_Z99' is not supported/)
  })

  it('create-workspace follows 202 + Location until the workspace is provisioned', async () => {
    const run = await runAgainst(emulator, {
      operation: 'create-workspace',
      'workspace-name': 'e2e-new-ws',
      location: 'East US',
      'storage-account': armId('local-rg', 'Microsoft.Storage/storageAccounts', 'e2estorage'),
      'key-vault': armId('local-rg', 'Microsoft.KeyVault/vaults', 'e2e-kv'),
      'application-insights': armId('local-rg', 'Microsoft.Insights/components', 'e2e-ai'),
      'friendly-name': 'E2E workspace'
    })
    assert.equal(run.code, 0, run.stdout)
    const ws = JSON.parse(run.outputs.result) as { name: string; provisioningState: string; location: string }
    assert.deepEqual([ws.name, ws.provisioningState, ws.location], ['e2e-new-ws', 'Succeeded', 'eastus'])
    const put = run.requests.find(r => r.method === 'PUT')
    assert.equal(put?.status, 202)
    assert.ok(run.requests.filter(r => /operationResults/.test(r.path)).length >= 1, 'followed the Location URL')
    // The new workspace's data plane answers at once: a run starts there (and fails, as it has no compute yet).
    const trained = await runAgainst(emulator, { 'workspace-name': 'e2e-new-ws', 'experiment-name': 'e2e-fresh', 'source-directory': 'examples', script: 'train.py', arguments: '--epochs\n1', 'compute-target': 'cpu-cluster' })
    assert.equal(trained.outputs['run-status'], 'Failed')
    assert.match(errorText(trained), /AzureMLCompute cluster cpu-cluster does not exist/)
  })

  it('create-workspace fails with the operation\'s error when a linked resource does not exist', async () => {
    const run = await runAgainst(emulator, {
      operation: 'create-workspace',
      'workspace-name': 'e2e-broken-ws',
      location: 'eastus',
      'storage-account': armId('missing-rg', 'Microsoft.Storage/storageAccounts', 'nostorage'),
      'key-vault': armId('local-rg', 'Microsoft.KeyVault/vaults', 'e2e-kv'),
      'application-insights': armId('local-rg', 'Microsoft.Insights/components', 'e2e-ai')
    })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /creating workspace 'e2e-broken-ws' .*HTTP 404 LinkedResourceNotFound: Creating workspace 'e2e-broken-ws' failed/)
  })

  it('create-workspace without its dependencies names the missing input, sending nothing', async () => {
    const run = await runAgainst(emulator, { operation: 'create-workspace', 'workspace-name': 'e2e-x', location: 'eastus' })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /^Input 'storage-account': required for create-workspace/)
  })
})

/**
 * The workflow cancelled (SIGINT, as the runner sends it) while these operations wait: the step ends at once
 * with a message, without a flood of requests. Each test has its own service (its faults and request log).
 */
describe('cancelled while waiting (bundled action)', { concurrency: true }, () => {
  const emulators = emulatorsFor({ runPhaseDelayMs: 50 })
  after(() => emulators.closeAll())

  /** Runs the action, sends SIGINT when `when` sees its line; returns the run, when the signal went and when the step ended. */
  async function interrupt(emulator: Emulator, inputs: Record<string, string>, when: (line: string) => boolean) {
    let child: ChildProcess | undefined
    let signalledAt: number | undefined
    let requestsBefore = 0
    const run = await runAgainst(emulator, inputs, {
      timeoutMs: 30_000,
      onStart: c => {
        child = c
      },
      onStdoutLine: line => {
        if (signalledAt === undefined && when(line)) {
          signalledAt = Date.now()
          requestsBefore = emulator.requests.length
          child!.kill('SIGINT')
        }
      }
    })
    const endedAt = Date.now()
    assert.ok(signalledAt !== undefined, `the action got as far as the signal point:\n${run.stdout}`)
    return { run, afterSignalMs: endedAt - signalledAt, requestsAfterSignal: emulator.requests.length - requestsBefore }
  }

  it('create-compute: SIGINT while provisioning stops the wait at once, saying the operation goes on in Azure', async () => {
    const emulator = await emulators.start({ provisioningDelayMs: 10 * 60_000 })
    const { run, afterSignalMs, requestsAfterSignal } = await interrupt(emulator, { operation: 'create-compute', 'compute-name': 'e2e-slow', 'vm-size': 'STANDARD_DS3_V2' }, line => line === "compute 'e2e-slow': InProgress")
    assert.notEqual(run.signal, 'SIGKILL', 'the action did not stop on its own')
    assert.equal(run.code, 1)
    assert.ok(afterSignalMs < 5000, `ended ${afterSignalMs} ms after the signal`)
    assert.ok(requestsAfterSignal <= 2, `${requestsAfterSignal} requests after the signal`)
    assert.equal(run.errors.length, 1)
    assert.match(errorText(run), /^creating compute 'e2e-slow': the workflow was cancelled; stopped waiting \(the operation goes on in Azure; follow it in the Azure portal\)$/)
  })

  it('list: SIGINT during a 100 s Retry-After ends the step within seconds', async () => {
    const emulator = await emulators.start()
    emulator.faults.add({ method: 'GET', path: '/resourcegroups$', kind: 'status', status: 429, retryAfterSeconds: 100, times: 1 })
    const { run, afterSignalMs, requestsAfterSignal } = await interrupt(emulator, { operation: 'list', resource: 'resource-groups' }, line => /: HTTP 429 from .*; retrying in 100 s/.test(line))
    assert.notEqual(run.signal, 'SIGKILL', 'the action did not stop on its own')
    assert.equal(run.code, 1)
    assert.ok(afterSignalMs < 5000, `ended ${afterSignalMs} ms after the signal`)
    assert.ok(requestsAfterSignal <= 1, `${requestsAfterSignal} requests after the signal: at most the one attempt made at once`)
    assert.equal(run.errors.length, 1)
    assert.match(errorText(run), /^The workflow was cancelled; operation 'list' stopped before it finished\.$/)
    assert.equal(run.outputs.result, undefined)
  })
})
