import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { dataPlaneUrl, definition, getRunJson, getToken, pollRun, submit } from '../helpers/emulator-client.js'

let emulator: Emulator
let token: string
before(async () => {
  emulator = await startEmulator({ port: 0, runPhaseDelayMs: 20 })
  token = await getToken(emulator)
})
after(() => emulator.close())

const auth = (): Record<string, string> => ({ Authorization: `Bearer ${token}` })

async function logOf(runId: string): Promise<string> {
  const info = await fetch(dataPlaneUrl(emulator, 'artifact/v2.0', `/artifacts/ExperimentRun/dcid.${runId}/contentinfo?path=azureml-logs/70_driver_log.txt`), { headers: auth() })
  if (info.status !== 200) return ''
  const { contentUri } = (await info.json()) as { contentUri: string }
  return (await fetch(contentUri)).text()
}

async function waitForLog(runId: string, text: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await logOf(runId)).includes(text)) {
    if (Date.now() > deadline) throw new Error(`'${text}' never appeared in the log of ${runId}`)
    await new Promise(r => setTimeout(r, 20))
  }
}

function cancel(experiment: string, runId: string): Promise<Response> {
  return fetch(dataPlaneUrl(emulator, 'execution/v1.0', `/experiments/${experiment}/runId/${runId}/cancel`), { method: 'POST', headers: auth() })
}

let canceledRunId = ''

describe('cancel, time limits and holds', () => {
  it('cancel: CancelRequested at once, SIGTERM, SIGKILL after 3 s when ignored, then Canceled and the process is gone', async () => {
    const script = [
      'import signal, time',
      'signal.signal(signal.SIGTERM, lambda *a: print("got SIGTERM, ignoring", flush=True))',
      'print("ready", flush=True)',
      'time.sleep(60)'
    ].join('\n')
    const runId = await submit(emulator, token, { experiment: 'cancel-exp', files: { 'stubborn.py': script }, definition: definition('stubborn.py') })
    canceledRunId = runId
    await waitForLog(runId, 'ready')
    const pid = emulator.getRun(runId)?.process?.pid
    assert.ok(pid, 'the run has a process')
    const started = Date.now()
    const res = await cancel('cancel-exp', runId)
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { runId })
    assert.equal((await getRunJson(emulator, token, 'cancel-exp', runId)).status, 'CancelRequested')
    const { run } = await pollRun(emulator, token, 'cancel-exp', runId)
    const elapsed = Date.now() - started
    assert.equal(run.status, 'Canceled')
    assert.equal(run.error, null)
    assert.ok(elapsed >= 2800 && elapsed < 8000, `SIGKILL comes 3 s after SIGTERM (took ${elapsed} ms)`)
    assert.match(await logOf(runId), /got SIGTERM, ignoring/)
    const info = emulator.getRun(runId)?.process
    assert.equal(info?.running, false)
    assert.equal(info?.signal, 'SIGKILL')
    assert.throws(() => process.kill(pid, 0), /ESRCH/)

    const again = await cancel('cancel-exp', runId)
    assert.equal(again.status, 200, 'cancelling a finished run is a no-op')
    assert.equal((await getRunJson(emulator, token, 'cancel-exp', runId)).status, 'Canceled')
    const unknown = await cancel('cancel-exp', 'no_such_run')
    assert.equal(unknown.status, 404)
    assert.equal(((await unknown.json()) as { error: { message: string } }).error.message, 'Run no_such_run was not found')
  })

  it('MaxRunDurationSeconds: the process is killed and the run ends Canceled with the reason', async () => {
    const runId = await submit(emulator, token, {
      experiment: 'limit-exp',
      files: { 'long.py': 'import time\nprint("long", flush=True)\ntime.sleep(30)\n' },
      definition: { Configuration: { Script: 'long.py', Target: 'cpu-cluster', MaxRunDurationSeconds: 1 } }
    })
    const { run } = await pollRun(emulator, token, 'limit-exp', runId)
    assert.equal(run.status, 'Canceled')
    assert.match((run.error as { error: { message: string } }).error.message, /exceeded MaxRunDurationSeconds \(1 s\)/)
    const ran = Date.parse(String(run.endTimeUtc)) - Date.parse(String(run.startTimeUtc))
    assert.ok(ran >= 1000 && ran < 4000, `ran ${ran} ms`)
    assert.equal(emulator.getRun(runId)?.process?.running, false)
  })

  it('MaxRunDurationSeconds beyond setTimeout\'s range (2^31 ms, 24.8 days) does not kill the run at once', async () => {
    const runId = await submit(emulator, token, {
      experiment: 'limit-exp',
      files: { 'short.py': 'import time\nprint("started", flush=True)\ntime.sleep(0.5)\nprint("finished", flush=True)\n' },
      definition: { Configuration: { Script: 'short.py', Target: 'cpu-cluster', MaxRunDurationSeconds: 30 * 24 * 3600 } }
    })
    const { run } = await pollRun(emulator, token, 'limit-exp', runId)
    assert.equal(run.status, 'Completed', JSON.stringify(run.error))
    assert.match(await logOf(runId), /started\nfinished\n/)
  })

  it("a training script sees a clean environment: Azure ML's variables and its own, none of the host's secrets", async () => {
    const planted = { INPUT_CLIENT_SECRET: 'planted-input-value', AZURE_CLIENT_SECRET: 'planted-azure-secret', GITHUB_TOKEN: 'planted-github-token', ACTIONS_RUNTIME_TOKEN: 'planted-runtime' }
    const script = [
      'import json, os, sys',
      'print("env " + json.dumps(sorted(os.environ)), flush=True)',
      'print("values " + json.dumps(sorted(os.environ.values())), flush=True)',
      'print("python ok", sys.version_info[0])'
    ].join('\n')
    Object.assign(process.env, planted)
    let runId: string
    try {
      runId = await submit(emulator, token, { experiment: 'env-exp', files: { 'env.py': script }, definition: definition('env.py', { environment: { environmentVariables: { MY_SETTING: 'from-the-definition' } } }) })
      await pollRun(emulator, token, 'env-exp', runId, s => s === 'Running')
    } finally {
      for (const name of Object.keys(planted)) delete process.env[name]
    }
    const { run } = await pollRun(emulator, token, 'env-exp', runId)
    const log = await logOf(runId)
    assert.equal(run.status, 'Completed', log)
    const names = JSON.parse(/^env (.*)$/m.exec(log)?.[1] ?? '[]') as string[]
    const values = JSON.parse(/^values (.*)$/m.exec(log)?.[1] ?? '[]') as string[]
    for (const [name, value] of Object.entries(planted)) {
      assert.ok(!names.includes(name), `${name} reached the script`)
      assert.ok(!values.includes(value), `the value of ${name} reached the script`)
    }
    for (const name of ['AZUREML_RUN_ID', 'AZUREML_RUN_TOKEN', 'AZUREML_SERVICE_ENDPOINT', 'MY_SETTING', 'PATH', 'PYTHONPATH']) assert.ok(names.includes(name), `${name} is missing`)
    // Nothing else of this process's environment either (npm_*, NODE_OPTIONS, …), beyond what the interpreter
    // needs; a shell between (a pyenv shim) sets its own SHLVL, PWD and _.
    const interpreter = /^(PATH|HOME|LANG|LC_\w+|TMPDIR|TMP|TEMP|TZ|PYTHON\w*|PYENV_\w+|SYSTEMROOT|WINDIR|PATHEXT|SHLVL|PWD|OLDPWD|_)$/i
    const inherited = Object.keys(process.env).filter(n => !interpreter.test(n) && names.includes(n))
    assert.deepEqual(inherited, [], 'only the host variables the interpreter needs')
    assert.match(log, /^python ok 3$/m)
  })

  it('hold NotResponding: the run reports it for that long, then carries on (and cannot finish meanwhile)', async () => {
    const runId = await submit(emulator, token, { experiment: 'hold-exp', files: { 'short.py': 'import time\nprint("hi", flush=True)\ntime.sleep(0.3)\n' }, definition: definition('short.py') })
    await pollRun(emulator, token, 'hold-exp', runId, s => s === 'Running')
    const res = await fetch(`${emulator.url}/_emulator/runs/${runId}/hold`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ status: 'NotResponding', seconds: 1 })
    })
    assert.equal(res.status, 200)
    const held = Date.now()
    assert.equal((await getRunJson(emulator, token, 'hold-exp', runId)).status, 'NotResponding')
    await new Promise(r => setTimeout(r, 600))
    assert.equal((await getRunJson(emulator, token, 'hold-exp', runId)).status, 'NotResponding', 'the script has exited, but the hold still shows')
    const { run, seen } = await pollRun(emulator, token, 'hold-exp', runId)
    assert.equal(run.status, 'Completed')
    assert.ok(Date.now() - held >= 1000)
    assert.deepEqual(seen.slice(0, 1), ['NotResponding'])
    assert.ok(!emulator.getRun(runId)?.statusHistory.some(s => s.status === 'NotResponding'), 'a hold only changes what is reported')

    const late = await fetch(`${emulator.url}/_emulator/runs/${runId}/hold`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ status: 'NotResponding', seconds: 1 })
    })
    assert.equal(late.status, 409, 'a finished run cannot be held')
    const bad = await fetch(`${emulator.url}/_emulator/runs/${runId}/hold`, { method: 'POST', body: JSON.stringify({ status: 'Paused', seconds: 1 }) })
    assert.equal(bad.status, 400)
  })

  it('a run token works only for its own run: metrics, tags, own run, artifact upload; nothing else', async () => {
    const script = `
import json, os, urllib.request, urllib.error
from azureml.core import Run
run = Run.get_context()
ep = os.environ["AZUREML_SERVICE_ENDPOINT"]
tok = os.environ["AZUREML_RUN_TOKEN"]
ws = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.MachineLearningServices/workspaces/%s" % (
    os.environ["AZUREML_ARM_SUBSCRIPTION"], os.environ["AZUREML_ARM_RESOURCEGROUP"], os.environ["AZUREML_ARM_WORKSPACE_NAME"])
def call(url):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + tok})
    try:
        return urllib.request.urlopen(req).status
    except urllib.error.HTTPError as e:
        return e.code
print("experiments", call(ep + "/history/v1.0" + ws + "/experiments"))
print("other-run", call(ep + "/history/v1.0" + ws + "/experiments/cancel-exp/runs/" + os.environ["OTHER_RUN"]))
print("arm", call(ep + ws + "?api-version=2019-11-01"))
print("own-run", call(ep + "/history/v1.0" + ws + "/experiments/" + run.experiment.name + "/runs/" + run.id))
with open("notes.txt", "w") as f:
    f.write("hello notes")
run.upload_file("uploaded/notes.txt", "notes.txt")
run.log("accuracy", 0.93)
run.set_tags({"a": 1, "b": None})
print("status", run.get_status())
print("tags", json.dumps(run.get_tags(), sort_keys=True))
`
    assert.ok(canceledRunId, 'runs after the cancel test')
    const runId = await submit(emulator, token, {
      experiment: 'token-exp',
      files: { 'probe.py': script },
      definition: definition('probe.py', { environment: { environmentVariables: { OTHER_RUN: canceledRunId } } })
    })
    const { run } = await pollRun(emulator, token, 'token-exp', runId)
    const log = await logOf(runId)
    assert.equal(run.status, 'Completed', log)
    assert.match(log, /^experiments 403$/m)
    assert.match(log, /^other-run 403$/m)
    assert.match(log, /^arm 401$/m)
    assert.match(log, /^own-run 200$/m)
    assert.match(log, /^status Running$/m)
    assert.match(log, /^tags \{"a": "1", "b": ""\}$/m)
    assert.deepEqual(run.tags, { a: '1', b: '' })
    assert.deepEqual(emulator.getRun(runId)?.metrics.map(m => [m.name, m.cells]), [['accuracy', [{ accuracy: 0.93 }]]])
    const info = await fetch(dataPlaneUrl(emulator, 'artifact/v2.0', `/artifacts/ExperimentRun/dcid.${runId}/content?path=uploaded/notes.txt`), { headers: auth() })
    assert.equal(await info.text(), 'hello notes')
    const byRun = emulator.requests.filter(r => r.authenticatedAs === 'run-token')
    assert.ok(byRun.some(r => r.path.endsWith('/metrics') && r.status === 200))
    assert.ok(byRun.some(r => r.path.endsWith('/experiments') && r.status === 403))
  })

  it('close() kills the processes of running runs', async () => {
    const other = await startEmulator({ port: 0, runPhaseDelayMs: 0 })
    let pid: number | undefined
    try {
      const otherToken = await getToken(other)
      const runId = await submit(other, otherToken, { experiment: 'close-exp', files: { 'long.py': 'import time\ntime.sleep(60)\n' }, definition: definition('long.py') })
      for (const deadline = Date.now() + 10_000; !pid && Date.now() < deadline; ) {
        pid = other.getRun(runId)?.process?.pid
        await new Promise(r => setTimeout(r, 20))
      }
      assert.ok(pid)
      assert.doesNotThrow(() => process.kill(pid!, 0), 'running before close')
    } finally {
      await other.close()
    }
    assert.throws(() => process.kill(pid!, 0), /ESRCH/)
  })
})
