/**
 * `list` through the bundled action follows every page — models, computes, workspaces, experiments, in pages
 * of 2 — and shows the same records as a table in the log and the job summary; `cancel-run` of a run that
 * does not exist fails with a hint, of a run that has ended succeeds with a notice.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { errorText, runAgainst } from '../helpers/e2e.js'
import { dataPlaneUrl, getToken, pollRun, submit, workspacePath } from '../helpers/emulator-client.js'

const PAGE = 2
const COMPUTES = ['cpu-cluster', 'gpu-a', 'gpu-b', 'gpu-c', 'gpu-d']
const EXPERIMENTS = ['list-exp-1', 'list-exp-2', 'list-exp-3', 'list-exp-4']
const WORKSPACES = ['list-ws-1', 'list-ws-2', 'list-ws-3', 'list-ws-4']
const MODELS = ['list-a', 'list-a', 'list-a', 'list-b', 'list-b']

let emulator: Emulator
let token: string
let runId: string

/** A request to the service with plain fetch (not the action's clients); fails the test unless 200/201/202. */
async function call(url: string, method: string, body?: unknown): Promise<any> {
  const res = await fetch(url, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  assert.ok([200, 201, 202].includes(res.status), `${method} ${url}: ${res.status} ${text}`)
  return text ? JSON.parse(text) : undefined
}

before(async () => {
  emulator = await startEmulator({ port: 0, runPhaseDelayMs: 20, pageSize: PAGE, provisioningDelayMs: 100, computes: COMPUTES })
  token = await getToken(emulator)
  runId = await submit(emulator, token, {
    experiment: 'list-trained',
    files: { 'train.py': 'import os\nos.makedirs("outputs", exist_ok=True)\nopen("outputs/model.json", "w").write("{}")\n' },
    definition: { configuration: { script: 'train.py', target: 'cpu-cluster' } }
  })
  assert.equal((await pollRun(emulator, token, 'list-trained', runId)).run.status, 'Completed')
  for (const name of EXPERIMENTS) await call(dataPlaneUrl(emulator, 'history/v1.0', `/experiments/${name}`), 'POST')
  for (const name of MODELS) {
    const asset = await call(dataPlaneUrl(emulator, 'modelmanagement/v1.0', '/assets'), 'POST', { name, artifacts: [{ prefix: `ExperimentRun/dcid.${runId}/outputs/model.json` }], runid: runId })
    await call(dataPlaneUrl(emulator, 'modelmanagement/v1.0', '/models'), 'POST', { name, url: `aml://asset/${asset.id}`, mimeType: 'application/json', runId, framework: 'Onnx' })
  }
  const group = workspacePath(emulator).replace(/\/providers\/.*$/, '')
  const linked = (type: string, name: string) => `${group}/providers/${type}/${name}`
  for (const name of WORKSPACES) {
    await call(`${emulator.url}${group}/providers/Microsoft.MachineLearningServices/workspaces/${name}?api-version=2019-11-01`, 'PUT', {
      location: 'eastus',
      properties: {
        storageAccount: linked('Microsoft.Storage/storageAccounts', 'liststore'),
        keyVault: linked('Microsoft.KeyVault/vaults', 'list-kv'),
        applicationInsights: linked('Microsoft.Insights/components', 'list-ai')
      }
    })
  }
})
after(() => emulator.close())

/** The Markdown table of a job summary: its columns and rows of cells. */
function summaryTable(summary: string): { columns: string[]; rows: string[][] } {
  const lines = summary.split('\n').filter(l => l.startsWith('| '))
  const cells = (line: string) => line.slice(2, -2).split(' | ')
  assert.ok(lines.length >= 2 && /^\| ---( \| ---)* \|$/.test(lines[1]), `a table in:\n${summary}`)
  return { columns: cells(lines[0]), rows: lines.slice(2).map(cells) }
}

/**
 * Lists `resource`, and checks what a user sees: `result` is every record, all pages were read (`path` counts
 * the list requests), and the log and the job summary show the same records as a table with these columns.
 */
async function listAll(inputs: Record<string, string>, path: RegExp, columns: string[], pages: number): Promise<Array<Record<string, unknown>>> {
  const run = await runAgainst(emulator, { operation: 'list', ...inputs })
  assert.equal(run.code, 0, run.stdout)
  const records = JSON.parse(run.outputs.result) as Array<Record<string, unknown>>
  const listRequests = run.requests.filter(r => r.method === 'GET' && path.test(r.path))
  assert.ok(listRequests.length > 1, `more than one page was read (${listRequests.length})`)
  assert.equal(listRequests.length, pages, `one request per page of ${PAGE}`)
  assert.match(run.summary, new RegExp(`^### ${records.length} ${inputs.resource}$`, 'm'))
  const shown = summaryTable(run.summary)
  assert.deepEqual(shown.columns, columns)
  assert.deepEqual(shown.rows, records.map(r => columns.map(c => (r[c] === null ? '' : String(r[c])))), 'a row per record, in order')
  assert.ok(run.stdout.includes(`| ${columns.join(' | ')} |`), 'the log shows the table too')
  return records
}

// One at a time: the requests a run made are the service's log while it ran.
describe('list and cancel-run (bundled action, local Azure ML service)', { concurrency: 1 }, () => {
  it('lists every model across pages, and only the versions of model-name with it', async () => {
    const columns = ['id', 'name', 'version', 'framework', 'runId', 'createdTime']
    const all = await listAll({ resource: 'models' }, /\/models$/, columns, 3)
    assert.deepEqual(all.map(m => m.id), ['list-b:2', 'list-b:1', 'list-a:3', 'list-a:2', 'list-a:1'], 'newest first')
    assert.ok(all.every(m => m.runId === runId && m.framework === 'Onnx'))
    const listA = await listAll({ resource: 'models', 'model-name': 'list-a' }, /\/models$/, columns, 2)
    assert.deepEqual(listA.map(m => m.id), ['list-a:3', 'list-a:2', 'list-a:1'])
  })

  it('lists every compute across pages', async () => {
    const computes = await listAll({ resource: 'computes' }, /\/computes$/, ['name', 'computeType', 'vmSize', 'vmPriority', 'minNodes', 'maxNodes', 'provisioningState', 'location'], 3)
    assert.deepEqual(computes.map(c => c.name).sort(), COMPUTES)
    assert.ok(computes.every(c => c.computeType === 'AmlCompute' && c.provisioningState === 'Succeeded'))
  })

  it('lists every workspace of the resource group across pages', async () => {
    const workspaces = await listAll({ resource: 'workspaces' }, /\/workspaces$/, ['name', 'resourceGroup', 'location', 'provisioningState', 'friendlyName', 'id'], 3)
    assert.deepEqual(workspaces.map(w => w.name).sort(), [emulator.identity.workspaceName, ...WORKSPACES].sort())
    assert.ok(workspaces.every(w => w.resourceGroup === emulator.identity.resourceGroup))
  })

  it('lists every experiment across pages', async () => {
    const experiments = await listAll({ resource: 'experiments' }, /\/experiments$/, ['name', 'experimentId', 'createdUtc', 'latestRunId'], 3)
    assert.deepEqual(experiments.map(e => e.name).sort(), [...EXPERIMENTS, 'list-trained'].sort())
    assert.equal(experiments.find(e => e.name === 'list-trained')?.latestRunId, runId)
  })

  it('cancel-run of a run that does not exist fails with a 404 and a hint, cancelling nothing', async () => {
    const run = await runAgainst(emulator, { operation: 'cancel-run', 'run-id': 'list-ghost_1700000000000_deadbeef' })
    assert.equal(run.code, 1)
    assert.equal(run.errors.length, 1)
    assert.match(errorText(run), /reading run 'list-ghost_1700000000000_deadbeef' of experiment 'list-ghost': HTTP 404/)
    assert.match(errorText(run), /Hint: Check `run-id` and `experiment-name`/)
    assert.ok(!run.requests.some(r => r.path.endsWith('/cancel')), 'no cancel was sent')
  })

  it('cancel-run of a run that has ended succeeds with a notice, cancelling nothing', async () => {
    const run = await runAgainst(emulator, { operation: 'cancel-run', 'run-id': runId, 'experiment-name': 'list-trained' })
    assert.equal(run.code, 0, run.stdout)
    assert.match(run.stdout, new RegExp(`^::notice::Run ${runId} has already ended \\(Completed\\); nothing to cancel\\.$`, 'm'))
    assert.equal(run.outputs['run-status'], 'Completed')
    assert.ok(!run.requests.some(r => r.path.endsWith('/cancel')), 'no cancel was sent')
    assert.ok(run.requests.some(r => r.method === 'GET' && r.path.endsWith(`/runs/${runId}`)), 'the run was read')
    assert.equal(emulator.getRun(runId)?.status, 'Completed')
  })
})
