import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { validateDefinition, validateResponse } from '../helpers/contract.js'
import { dataPlaneUrl, getToken, pollRun, submit } from '../helpers/emulator-client.js'

const RH = 'data-plane-2019-09-30/runHistory.json'
const RH_0501 = 'data-plane-2019-05-01/runHistory.json'
const ARTIFACT = 'data-plane-2019-09-30/artifact.json'
const H = '/history/v1.0/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}'

const TRAIN = `
import os, sys, time
from azureml.core import Run
run = Run.get_context()
print("starting", sys.argv[1:])
for i in range(3):
    run.log("loss", 1.0 / (i + 1))
    print("epoch", i)
    time.sleep(0.3)
run.log_list("accuracies", [0.5, 0.75, 0.9])
run.log_row("table", epoch=1, acc=0.9)
run.tag("stage", "trained")
os.makedirs("outputs/sub", exist_ok=True)
with open("outputs/model.txt", "w") as f:
    f.write("weights=42")
with open("outputs/sub/extra.json", "w") as f:
    f.write("{}")
print("env", os.environ["AZUREML_RUN_ID"], os.environ["AZUREML_ARM_PROJECT_NAME"], os.environ.get("MY_VAR"))
print("done")
`

let emulator: Emulator
let token: string
before(async () => {
  emulator = await startEmulator({ port: 0, runPhaseDelayMs: 100, pageSize: 2 })
  token = await getToken(emulator)
})
after(() => emulator.close())

const auth = (): Record<string, string> => ({ Authorization: `Bearer ${token}` })

/** Reads the driver log from `offset` through its SAS URL with a Range header. */
async function readLogFrom(runId: string, offset: number): Promise<{ status: number; text: string; contentRange: string | null }> {
  const info = await fetch(dataPlaneUrl(emulator, 'artifact/v2.0', `/artifacts/ExperimentRun/dcid.${runId}/contentinfo?path=azureml-logs/70_driver_log.txt`), { headers: auth() })
  if (info.status === 404) return { status: 404, text: '', contentRange: null }
  const { contentUri } = (await info.json()) as { contentUri: string }
  const res = await fetch(contentUri, { headers: { Range: `bytes=${offset}-` } })
  return { status: res.status, text: await res.text(), contentRange: res.headers.get('content-range') }
}

describe('a real run', () => {
  it('walks every status, streams a growing driver log, logs metrics and collects outputs', async () => {
    const runId = `train_${Date.now()}`
    await submit(emulator, token, {
      experiment: 'train-exp',
      runId,
      files: { 'train.py': TRAIN },
      // PascalCase, as Microsoft's REST how-to sends it.
      definition: { Configuration: { Script: 'train.py', Arguments: ['--epochs', '3'], Target: 'cpu-cluster', Environment: { EnvironmentVariables: { MY_VAR: 'hello' } } } }
    })

    const seen: string[] = []
    let log = ''
    let growths = 0
    let run: Record<string, unknown> = {}
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      const res = await fetch(dataPlaneUrl(emulator, 'history/v1.0', `/experiments/train-exp/runs/${runId}`), { headers: auth() })
      run = (await res.json()) as Record<string, unknown>
      if (seen.at(-1) !== run.status) seen.push(String(run.status))
      const chunk = await readLogFrom(runId, Buffer.byteLength(log))
      if (chunk.status === 206) {
        log += chunk.text
        if (run.status === 'Running') growths += 1
      } else {
        assert.ok([404, 416].includes(chunk.status), `log read answered ${chunk.status}`)
      }
      if (['Completed', 'Failed', 'Canceled'].includes(String(run.status))) break
      await new Promise(r => setTimeout(r, 15))
    }
    assert.equal(run.status, 'Completed', JSON.stringify(run.error))
    const expected = ['NotStarted', 'Starting', 'Preparing', 'Queued', 'Running', 'Finalizing', 'Completed']
    assert.deepEqual(emulator.getRun(runId)?.statusHistory.map(s => s.status), expected)
    assert.deepEqual(seen.filter(s => expected.includes(s)), expected.filter(s => seen.includes(s)), `statuses out of order: ${seen.join(' → ')}`)
    assert.ok(seen.includes('Running') && seen.includes('Finalizing') && seen.length >= 5, `seen only ${seen.join(' → ')}`)
    assert.ok(growths >= 2, `the log should grow while the run is Running (grew ${growths} times)`)

    // The whole log arrived piece by piece; past its end the blob answers 416.
    const end = await readLogFrom(runId, Buffer.byteLength(log))
    log += end.status === 206 ? end.text : ''
    const final = await readLogFrom(runId, Buffer.byteLength(log))
    assert.equal(final.status, 416)
    assert.equal(final.contentRange, `bytes */${Buffer.byteLength(log)}`)
    assert.match(log, /starting \['--epochs', '3'\]\nepoch 0\nepoch 1\nepoch 2\n/)
    assert.match(log, new RegExp(`env ${runId} train-exp hello\\ndone\\n$`))

    // The Run object.
    validateResponse(RH, `${H}/experiments/{experimentName}/runs/{runId}`, 'GET', 200, run, { strict: true })
    assert.equal(run.runId, runId)
    assert.equal(run.runType, 'azureml.scriptrun')
    assert.equal(run.target, 'cpu-cluster')
    assert.equal(run.scriptName, 'train.py')
    assert.equal(run.dataContainerId, `dcid.${runId}`)
    assert.deepEqual(run.tags, { stage: 'trained' })
    assert.equal(run.error, null)
    assert.ok(Date.parse(String(run.startTimeUtc)) <= Date.parse(String(run.endTimeUtc)))
    const def = run.runDefinition as { configuration: Record<string, unknown> }
    assert.equal(def.configuration.script, 'train.py', 'bound case-insensitively to camelCase')
    assert.deepEqual((def.configuration.environment as Record<string, unknown>).environmentVariables, { MY_VAR: 'hello' })

    // Metrics, in logging order, page by page (page size 2).
    const metrics: Array<Record<string, any>> = []
    let next: string | null = dataPlaneUrl(emulator, 'history/v1.0', `/experiments/train-exp/metrics?$filter=${encodeURIComponent(`RunId eq ${runId}`)}`)
    let pages = 0
    while (next) {
      const res: Response = await fetch(next, { headers: auth() })
      assert.equal(res.status, 200)
      const page = (await res.json()) as { value: Array<Record<string, any>>; nextLink: string | null; continuationToken: string | null }
      validateResponse(RH_0501, `${H}/experiments/{experimentName}/metrics`, 'GET', 200, page, { strict: true })
      for (const m of page.value) validateDefinition(RH, 'RunMetric', m, { strict: true })
      assert.ok(page.value.length <= 2)
      metrics.push(...page.value)
      next = page.nextLink
      pages += 1
    }
    assert.equal(pages, 3)
    assert.deepEqual(
      metrics.map(m => [m.name, m.metricType, m.numCells]),
      [
        ['loss', 'azureml.v1.scalar', 1],
        ['loss', 'azureml.v1.scalar', 1],
        ['loss', 'azureml.v1.scalar', 1],
        ['accuracies', 'azureml.v1.list', 3],
        ['table', 'azureml.v1.table', 1]
      ]
    )
    assert.deepEqual(
      metrics.filter(m => m.name === 'loss').map(m => m.cells[0].loss),
      [1, 0.5, 1 / 3]
    )
    assert.deepEqual(metrics[3].cells, [{ accuracies: 0.5 }, { accuracies: 0.75 }, { accuracies: 0.9 }])
    assert.deepEqual(metrics[4].cells, [{ epoch: 1, acc: 0.9 }])
    assert.deepEqual(metrics[4].schema.properties.map((p: { name: string; type: string }) => [p.name, p.type]), [['epoch', 'int'], ['acc', 'float']])
    for (const m of metrics) assert.equal(m.runId, runId)
    const quoted = await fetch(dataPlaneUrl(emulator, 'history/v1.0', `/experiments/train-exp/metrics?$top=100&$filter=${encodeURIComponent(`RunId eq '${runId}'`)}`), { headers: auth() })
    assert.equal(((await quoted.json()) as { value: unknown[] }).value.length, 2, '$top-less page size still applies: 2 per page')

    // Outputs and logs are artifacts; content comes through the SAS URL.
    const list = await fetch(dataPlaneUrl(emulator, 'artifact/v2.0', `/artifacts/ExperimentRun/dcid.${runId}`), { headers: auth() })
    const listBody = (await list.json()) as { value: Array<{ path: string }>; continuationToken: string | null }
    validateResponse(ARTIFACT, '/artifact/v2.0/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}/artifacts/{origin}/{container}', 'GET', 200, listBody, { strict: true })
    assert.deepEqual(emulator.getRun(runId)?.artifacts, ['azureml-logs/70_driver_log.txt', 'outputs/model.txt', 'outputs/sub/extra.json'])
    assert.equal(listBody.value.length, 2, 'first page of 3 artifacts')
    assert.ok(listBody.continuationToken)
    const info = await fetch(dataPlaneUrl(emulator, 'history/v1.0', `/experiments/train-exp/runs/${runId}/artifacts/contentinfo?path=outputs/model.txt`), { headers: auth() })
    const { contentUri } = (await info.json()) as { contentUri: string }
    assert.match(contentUri, new RegExp(`^${emulator.url}/blob/.+/ExperimentRun/dcid\\.${runId}/outputs/model\\.txt\\?sv=2019-02-02&sr=b&sp=r&se=.+&sig=`))
    const blob = await fetch(contentUri)
    assert.equal(blob.status, 200)
    assert.equal(await blob.text(), 'weights=42')
    assert.equal(blob.headers.get('x-ms-blob-type'), 'BlockBlob')
    assert.ok(blob.headers.get('etag') && blob.headers.get('last-modified'))
    const head = await fetch(contentUri, { method: 'HEAD' })
    assert.equal(head.headers.get('content-length'), '10')
    const details = await fetch(dataPlaneUrl(emulator, 'history/v1.0', `/experiments/train-exp/runs/${runId}/details`), { headers: auth() })
    const detailsBody = (await details.json()) as { logFiles: Record<string, string> }
    validateResponse(RH, `${H}/experiments/{experimentName}/runs/{runId}/details`, 'GET', 200, detailsBody, { strict: true })
    const logText = await (await fetch(detailsBody.logFiles['azureml-logs/70_driver_log.txt'])).text()
    assert.equal(logText, log)

    // The studio page.
    const pageUrl = `${emulator.url}/studio/runs/${runId}?wsid=/subscriptions/${emulator.identity.subscriptionId}/resourcegroups/local-rg/workspaces/local-ws`
    const page = await fetch(pageUrl, { headers: auth() })
    assert.equal(page.status, 200)
    const html = await page.text()
    for (const text of [runId, 'Completed', 'train-exp', 'cpu-cluster', 'accuracies', 'done']) assert.ok(html.includes(text), text)
  })

  it('fails with the exception of the traceback and still collects outputs', async () => {
    const script = 'import os\nos.makedirs("outputs", exist_ok=True)\nopen("outputs/partial.txt", "w").write("p")\nprint("about to fail")\nx = 1 / 0\n'
    const runId = await submit(emulator, token, { experiment: 'fail-exp', files: { 'fail.py': script }, definition: { configuration: { script: 'fail.py', target: 'cpu-cluster' } } })
    assert.match(runId, /^fail-exp_\d{13}_[0-9a-f]{8}$/)
    const { run } = await pollRun(emulator, token, 'fail-exp', runId)
    assert.equal(run.status, 'Failed')
    const error = run.error as { error: { code: string; message: string } }
    assert.deepEqual(error.error, { code: 'UserError', message: 'User program failed with ZeroDivisionError: division by zero' })
    validateResponse(RH, `${H}/experiments/{experimentName}/runs/{runId}`, 'GET', 200, run, { strict: true })
    assert.ok(emulator.getRun(runId)?.artifacts.includes('outputs/partial.txt'))
    assert.deepEqual(emulator.getRun(runId)?.statusHistory.map(s => s.status).slice(-2), ['Finalizing', 'Failed'])
  })

  it('falls back to the exit code when there is no traceback', async () => {
    const runId = await submit(emulator, token, { experiment: 'fail-exp', files: { 'exit.py': 'import sys\nprint("bye")\nsys.exit(3)\n' }, definition: { configuration: { script: 'exit.py', target: 'cpu-cluster' } } })
    const { run } = await pollRun(emulator, token, 'fail-exp', runId)
    assert.equal((run.error as { error: { message: string } }).error.message, 'User program failed with exit code 3')
  })

  it('fails before Running when the target is not a compute of the workspace', async () => {
    const runId = await submit(emulator, token, { experiment: 'fail-exp', files: { 'a.py': 'print("never")' }, definition: { configuration: { script: 'a.py', target: 'gpu-cluster' } } })
    const { run } = await pollRun(emulator, token, 'fail-exp', runId)
    assert.equal(run.status, 'Failed')
    // Azure's wording for a run on a cluster the workspace does not have.
    assert.deepEqual((run.error as { error: unknown }).error, { code: 'UserError', message: 'AzureMLCompute cluster gpu-cluster does not exist' })
    const snapshot = emulator.getRun(runId)
    assert.ok(!snapshot?.statusHistory.some(s => s.status === 'Running'))
    assert.equal(snapshot?.process, undefined, 'no process was started')
  })

  it('lists the experiment runs with paging and answers 404 for an unknown run', async () => {
    const res = await fetch(dataPlaneUrl(emulator, 'history/v1.0', '/experiments/fail-exp/runs'), { headers: auth() })
    const page = (await res.json()) as { value: Array<{ runId: string }>; nextLink: string | null }
    // The list operation is only in the 2019-05-01 contract; its items are the (newer) 2019-09-30 Run.
    validateResponse(RH_0501, `${H}/experiments/{experimentName}/runs`, 'GET', 200, page)
    for (const item of page.value) validateDefinition(RH, 'Run', item, { strict: true })
    assert.equal(page.value.length, 2)
    assert.ok(page.nextLink)
    const second = (await (await fetch(page.nextLink, { headers: auth() })).json()) as { value: unknown[]; nextLink: string | null }
    assert.equal(second.value.length, 1)
    assert.equal(second.nextLink, null)

    const missing = await fetch(dataPlaneUrl(emulator, 'history/v1.0', '/experiments/fail-exp/runs/nope_1'), { headers: auth() })
    assert.equal(missing.status, 404)
    const body = (await missing.json()) as Record<string, any>
    assert.deepEqual(body.error, { code: 'UserError', message: 'Run nope_1 was not found', innerError: { code: 'NotFoundError' } })
    validateResponse(RH, `${H}/experiments/{experimentName}/runs/{runId}`, 'GET', 404, body, { strict: true })
    const ws = await fetch(`${emulator.url}/history/v1.0/subscriptions/${emulator.identity.subscriptionId}/resourceGroups/local-rg/providers/Microsoft.MachineLearningServices/workspaces/other-ws/experiments`, { headers: auth() })
    assert.equal(ws.status, 404)
    assert.equal(((await ws.json()) as { error: { code: string } }).error.code, 'UserError')
  })

  it('rejects metrics without a name or cells, and a missing or unsupported filter', async () => {
    const runId = await submit(emulator, token, { experiment: 'metrics-exp', files: { 'a.py': 'print(1)' }, definition: { configuration: { script: 'a.py', target: 'cpu-cluster' } } })
    const post = (path: string, body: unknown): Promise<Response> =>
      fetch(dataPlaneUrl(emulator, 'history/v1.0', `/experiments/metrics-exp/runs/${runId}${path}`), {
        method: 'POST',
        headers: { ...auth(), 'Content-Type': 'application/json' },
        body: JSON.stringify(body)
      })
    for (const bad of [{ cells: [{ a: 1 }] }, { name: 'a' }, { name: 'a', cells: [] }, { name: 'a', cells: [{ a: { nested: 1 } }] }]) {
      const res = await post('/metrics', bad)
      assert.equal(res.status, 400, JSON.stringify(bad))
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'ValidationError')
    }
    const batch = await post('/batch/metrics', { values: [{ name: 'ok', cells: [{ ok: 1 }] }, { name: 'bad' }] })
    assert.equal(batch.status, 400)
    assert.equal(emulator.getRun(runId)?.metrics.length, 0, 'a rejected batch logs nothing')
    assert.equal((await post('/batch/metrics', { values: [{ name: 'ok', cells: [{ ok: 1 }] }, { name: 'ok', cells: [{ ok: 2 }] }] })).status, 200)
    assert.equal(emulator.getRun(runId)?.metrics.length, 2)
    for (const filter of ['', 'Status eq Running', 'RunId ne x']) {
      const res = await fetch(dataPlaneUrl(emulator, 'history/v1.0', `/experiments/metrics-exp/metrics${filter ? `?$filter=${encodeURIComponent(filter)}` : ''}`), { headers: auth() })
      assert.equal(res.status, 400, filter)
    }
  })
})

describe('the azureml.core shim on the run\'s PYTHONPATH', () => {
  it('stamps metrics with six fraction digits, also on a whole second (isoformat() would drop them)', () => {
    // The clock stopped on a whole second: the one case where a plain isoformat() changes width, and so
    // where text order and time order of two metrics part.
    const script = [
      'import datetime',
      'from azureml.core import run',
      'class Frozen(datetime.datetime):',
      '    @classmethod',
      '    def now(cls, tz=None):',
      '        return datetime.datetime(2026, 1, 1, 0, 0, 38, 0, tzinfo=tz)',
      'run.datetime.datetime = Frozen',
      'print(run._now())'
    ].join('\n')
    const shim = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../emulator/python')
    const out = execFileSync('python3', ['-c', script], { env: { ...process.env, PYTHONPATH: shim }, encoding: 'utf8' })
    assert.equal(out.trim(), '2026-01-01T00:00:38.000000Z')
  })
})
