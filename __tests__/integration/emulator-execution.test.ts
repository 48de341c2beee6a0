import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { validateDefinition, validateResponse } from '../helpers/contract.js'
import { dataPlaneUrl, definition, getToken, makeZip, pollRun, startRun, submit } from '../helpers/emulator-client.js'

const EXECUTION = 'data-plane-2019-09-30/execution.json'
const RH = 'data-plane-2019-09-30/runHistory.json'
const START =
  '/execution/v1.0/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}/experiments/{experimentName}/startrun'

let emulator: Emulator
let token: string
before(async () => {
  emulator = await startEmulator({ port: 0, runPhaseDelayMs: 10 })
  token = await getToken(emulator)
})
after(() => emulator.close())

const auth = (): Record<string, string> => ({ Authorization: `Bearer ${token}` })
const startUrl = (query = ''): string => dataPlaneUrl(emulator, 'execution/v1.0', `/experiments/exec-exp/startrun${query}`)

/** A multipart body built by hand, so that malformed ones can be sent too. */
function multipart(boundary: string, parts: Array<{ name: string; filename?: string; data: string | Buffer }>, close = true): Buffer {
  const chunks: Buffer[] = []
  for (const p of parts) {
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\nContent-Type: application/octet-stream\r\n\r\n`),
      Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data),
      Buffer.from('\r\n')
    )
  }
  if (close) chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return Buffer.concat(chunks)
}

async function postRaw(body: Buffer | string, contentType: string, query = ''): Promise<{ status: number; body: any }> {
  const res = await fetch(startUrl(query), { method: 'POST', headers: { ...auth(), 'Content-Type': contentType }, body })
  return { status: res.status, body: await res.json() }
}

const GOOD_DEF = JSON.stringify(definition('a.py'))
const ZIP = makeZip({ 'a.py': 'print("hi")\n' })

describe('startrun', () => {
  const B = 'XyZ-boundary-42'
  const cases: Array<{ name: string; body: Buffer | string; type?: string; message: RegExp; code?: string }> = [
    { name: 'not multipart', body: GOOD_DEF, type: 'application/json', message: /must be multipart\/form-data with a boundary/ },
    { name: 'multipart without a boundary', body: 'x', type: 'multipart/form-data', message: /must be multipart\/form-data with a boundary/ },
    { name: 'no closing boundary', body: multipart(B, [{ name: 'runDefinitionFile', filename: 'd.json', data: GOOD_DEF }], false), message: /malformed: .*closing boundary/ },
    { name: 'missing projectZipFile', body: multipart(B, [{ name: 'runDefinitionFile', filename: 'd.json', data: GOOD_DEF }]), message: /missing the multipart part 'projectZipFile'/ },
    { name: 'missing both parts', body: multipart(B, [{ name: 'other', data: 'x' }]), message: /parts 'runDefinitionFile' and 'projectZipFile'/ },
    {
      name: 'run definition not JSON',
      body: multipart(B, [
        { name: 'runDefinitionFile', filename: 'd.json', data: '{"configuration": ' },
        { name: 'projectZipFile', filename: 'p.zip', data: ZIP }
      ]),
      message: /'runDefinitionFile' is not valid JSON/
    },
    {
      name: 'no configuration.script',
      body: multipart(B, [
        { name: 'runDefinitionFile', filename: 'd.json', data: JSON.stringify({ Configuration: { Target: 'cpu-cluster' } }) },
        { name: 'projectZipFile', filename: 'p.zip', data: ZIP }
      ]),
      message: /configuration\.script/,
      code: 'ValidationError'
    },
    {
      name: 'not a zip',
      body: multipart(B, [
        { name: 'runDefinitionFile', filename: 'd.json', data: GOOD_DEF },
        { name: 'projectZipFile', filename: 'p.zip', data: 'this is not a zip file at all, just text' }
      ]),
      message: /'projectZipFile' is not a valid zip archive: it does not start with a zip signature/
    },
    {
      name: 'a corrupt zip (right signatures, damaged member)',
      body: multipart(B, [
        { name: 'runDefinitionFile', filename: 'd.json', data: GOOD_DEF },
        { name: 'projectZipFile', filename: 'p.zip', data: corrupt(makeZip({ 'a.py': 'print("hello world")\n'.repeat(50) })) }
      ]),
      message: /'projectZipFile' is not a valid zip archive: Python's zipfile cannot read it/
    }
  ]
  for (const c of cases) {
    it(`400 for ${c.name}`, async () => {
      const { status, body } = await postRaw(c.body, c.type ?? `multipart/form-data; boundary=${B}`)
      assert.equal(status, 400, JSON.stringify(body))
      assert.equal(body.error.code, c.code ?? 'UserError')
      assert.match(body.error.message, c.message)
      validateResponse(EXECUTION, START, 'POST', 400, body, { strict: true })
      const experiment = await fetch(dataPlaneUrl(emulator, 'history/v1.0', '/experiments/exec-exp'), { headers: auth() })
      assert.equal(experiment.status, 404, 'a rejected start creates nothing, not even the experiment')
    })
  }

  it('400 for a run id that does not match the pattern', async () => {
    const res = await startRun(emulator, token, { experiment: 'exec-exp', runId: '-bad', files: { 'a.py': '' }, definition: definition('a.py') })
    assert.equal(res.status, 400)
    assert.equal(((await res.json()) as { error: { target: string } }).error.target, 'runId')
  })

  it('honours runId, and answers 409 for a run id that already exists (a retried start finds its run)', async () => {
    const runId = `dup_${Date.now()}`
    const first = await startRun(emulator, token, { experiment: 'exec-exp', runId, files: { 'a.py': 'print(1)' }, definition: definition('a.py') })
    assert.equal(first.status, 200)
    const firstBody = await first.json()
    validateResponse(EXECUTION, START, 'POST', 200, firstBody, { strict: true })
    assert.deepEqual(firstBody, { runId })
    const second = await startRun(emulator, token, { experiment: 'other-exp', runId, files: { 'a.py': 'print(2)' }, definition: definition('a.py') })
    assert.equal(second.status, 409)
    const body = (await second.json()) as any
    validateResponse(EXECUTION, START, 'POST', 409, body, { strict: true })
    assert.deepEqual(body.error, { code: 'UserError', message: `Run ${runId} already exists in experiment exec-exp`, innerError: { code: 'Conflict' } })
    assert.equal(emulator.getRun(runId)?.experimentName, 'exec-exp')
  })

  it('binds PascalCase and camelCase run definitions alike, keeping environment variable names as given', async () => {
    const script = 'import os, sys\nprint(sys.argv[1:], os.environ["MixedCase_Var"])\n'
    const pascal = await submit(emulator, token, {
      experiment: 'exec-exp',
      files: { 's.py': script },
      definition: { Configuration: { Script: 's.py', Arguments: ['--x', 1], Target: 'cpu-cluster', Environment: { EnvironmentVariables: { MixedCase_Var: 'v1' } } } }
    })
    const camel = await submit(emulator, token, {
      experiment: 'exec-exp',
      files: { 's.py': script },
      definition: { configuration: { script: 's.py', arguments: ['--x', '1'], target: 'cpu-cluster', environment: { environmentVariables: { MixedCase_Var: 'v1' } } } }
    })
    const a = await pollRun(emulator, token, 'exec-exp', pascal)
    const b = await pollRun(emulator, token, 'exec-exp', camel)
    assert.equal(a.run.status, 'Completed')
    assert.deepEqual(a.run.runDefinition, b.run.runDefinition)
    const text = await (await fetch(dataPlaneUrl(emulator, 'artifact/v2.0', `/artifacts/ExperimentRun/dcid.${pascal}/content?path=azureml-logs/70_driver_log.txt`), { headers: auth() })).text()
    assert.equal(text, "['--x', '1'] v1\n")
  })

  it('accepts a chunked body and creates the experiment on first use', async () => {
    const body = multipart('chunky', [
      { name: 'runDefinitionFile', filename: 'd.json', data: GOOD_DEF },
      { name: 'projectZipFile', filename: 'p.zip', data: ZIP }
    ])
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < body.length; i += 100) controller.enqueue(body.subarray(i, i + 100))
        controller.close()
      }
    })
    const res = await fetch(dataPlaneUrl(emulator, 'execution/v1.0', '/experiments/chunked-exp/startrun'), {
      method: 'POST',
      headers: { ...auth(), 'Content-Type': 'multipart/form-data; boundary=chunky' },
      body: stream,
      duplex: 'half'
    } as RequestInit)
    assert.equal(res.status, 200, await res.clone().text())
    const exp = await fetch(dataPlaneUrl(emulator, 'history/v1.0', '/experiments/chunked-exp'), { headers: auth() })
    assert.equal(exp.status, 200)
    const expBody = await exp.json()
    validateDefinition(RH, 'Experiment', expBody, { strict: true })
    assert.equal((expBody as { latestCreatedRunId: string }).latestCreatedRunId, ((await res.json()) as { runId: string }).runId)
  })

  it('413 for a body over the limit, with or without Content-Length', async () => {
    const small = await startEmulator({ port: 0, maxUploadBytes: 50_000 })
    try {
      const smallToken = await getToken(small)
      const big = multipart('big', [
        { name: 'runDefinitionFile', filename: 'd.json', data: GOOD_DEF },
        { name: 'projectZipFile', filename: 'p.zip', data: Buffer.alloc(200_000, 1) }
      ])
      const url = dataPlaneUrl(small, 'execution/v1.0', '/experiments/e/startrun')
      const headers = { Authorization: `Bearer ${smallToken}`, 'Content-Type': 'multipart/form-data; boundary=big' }
      const sized = await fetch(url, { method: 'POST', headers, body: big })
      assert.equal(sized.status, 413)
      assert.equal(((await sized.json()) as { error: { code: string } }).error.code, 'UserError')
      const chunked = await fetch(url, {
        method: 'POST',
        headers,
        body: new ReadableStream<Uint8Array>({
          start(c) {
            for (let i = 0; i < big.length; i += 10_000) c.enqueue(big.subarray(i, i + 10_000))
            c.close()
          }
        }),
        duplex: 'half'
      } as RequestInit)
      assert.equal(chunked.status, 413)
      assert.equal(small.requests.filter(r => r.status === 413).length, 2)
    } finally {
      await small.close()
    }
  })
})

describe('artifacts and the blob route', () => {
  let runId = ''
  before(async () => {
    runId = await submit(emulator, token, { experiment: 'blob-exp', files: { 'p.py': 'print("0123456789")\n' }, definition: definition('p.py') })
    await pollRun(emulator, token, 'blob-exp', runId)
  })
  const contentUri = async (path = 'azureml-logs/70_driver_log.txt'): Promise<string> => {
    const res = await fetch(dataPlaneUrl(emulator, 'artifact/v2.0', `/artifacts/ExperimentRun/dcid.${runId}/contentinfo?path=${path}`), { headers: auth() })
    assert.equal(res.status, 200)
    return ((await res.json()) as { contentUri: string }).contentUri
  }

  it('serves ranges: 206 with Content-Range, x-ms-range first, 416 InvalidRange past the end', async () => {
    const uri = await contentUri()
    const part = await fetch(uri, { headers: { Range: 'bytes=2-4' } })
    assert.equal(part.status, 206)
    assert.equal(part.headers.get('content-range'), 'bytes 2-4/11')
    assert.equal(await part.text(), '234')
    const ms = await fetch(uri, { headers: { Range: 'bytes=0-0', 'x-ms-range': 'bytes=8-' } })
    assert.equal(await ms.text(), '89\n')
    const past = await fetch(uri, { headers: { Range: 'bytes=11-' } })
    assert.equal(past.status, 416)
    assert.equal(past.headers.get('content-range'), 'bytes */11')
    const xml = await past.text()
    assert.match(xml, /^<\?xml version="1\.0" encoding="utf-8"\?><Error><Code>InvalidRange<\/Code><Message>The range specified is invalid for the current size of the resource\.\nRequestId:[0-9a-f-]{36}\nTime:/)
    assert.ok(past.headers.get('x-ms-request-id'))
  })

  it('403 AuthenticationFailed for a tampered signature or path, 404 without a SAS', async () => {
    const uri = new URL(await contentUri())
    const sig = uri.searchParams.get('sig') ?? ''
    const tampered = new URL(uri)
    tampered.searchParams.set('sig', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1))
    const otherPath = new URL(uri.toString().replace('70_driver_log.txt', '71_other.txt'))
    for (const url of [tampered, otherPath]) {
      const res = await fetch(url)
      assert.equal(res.status, 403)
      const text = await res.text()
      assert.match(text, /<Code>AuthenticationFailed<\/Code><Message>Server failed to authenticate the request\./)
      assert.match(text, /<AuthenticationErrorDetail>Signature did not match\./)
      assert.equal(res.headers.get('x-ms-error-code'), 'AuthenticationFailed')
    }
    const bare = await fetch(uri.toString().split('?')[0])
    assert.equal(bare.status, 404)
    assert.match(await bare.text(), /<Code>ResourceNotFound<\/Code>/)
    assert.ok(!JSON.stringify(emulator.requests).includes(sig), 'SAS signatures are redacted in the request log')
  })

  it('403 once the SAS has expired', async () => {
    const config = await fetch(`${emulator.url}/_emulator/config`, { method: 'POST', body: JSON.stringify({ sasLifetimeSeconds: 0 }) })
    assert.equal(config.status, 200)
    try {
      const res = await fetch(await contentUri())
      assert.equal(res.status, 403)
      assert.match(await res.text(), /Signature not valid in the specified time frame: Start \[\] - Expiry \[.+GMT\] - Current \[.+GMT\]/)
    } finally {
      emulator.configure({ sasLifetimeSeconds: 3600 })
    }
    assert.equal((await fetch(await contentUri())).status, 200)
  })

  it('uploads artifacts: 409 on a second upload, overwrite and append on request, bad paths 400, unknown 404', async () => {
    const url = (path: string, extra = ''): string => dataPlaneUrl(emulator, 'artifact/v2.0', `/artifacts/LocalUpload/my-container/content?path=${encodeURIComponent(path)}${extra}`)
    const post = (u: string, body: string): Promise<Response> => fetch(u, { method: 'POST', headers: { ...auth(), 'Content-Type': 'application/octet-stream' }, body })
    const first = await post(url('notes/a.txt'), 'one')
    assert.equal(first.status, 200)
    validateDefinition('data-plane-2019-09-30/artifact.json', 'Artifact', await first.json(), { strict: true })
    assert.equal((await post(url('notes/a.txt'), 'two')).status, 409)
    assert.equal((await post(url('notes/a.txt', '&allowOverwrite=true'), 'two')).status, 200)
    assert.equal((await post(url('notes/a.txt', '&append=true'), '+three')).status, 200)
    const content = await fetch(url('notes/a.txt'), { headers: auth() })
    assert.equal(await content.text(), 'two+three')
    for (const bad of ['../etc/passwd', '/abs', 'a//b']) assert.equal((await post(url(bad), 'x')).status, 400, bad)
    const missing = await fetch(dataPlaneUrl(emulator, 'artifact/v2.0', '/artifacts/LocalUpload/my-container/metadata?path=nope.txt'), { headers: auth() })
    assert.equal(missing.status, 404)
    assert.equal(((await missing.json()) as { error: { innerError: { code: string } } }).error.innerError.code, 'NotFoundError')
  })
})

/** Flips bytes inside the first member's compressed data, leaving the zip's signatures intact. */
function corrupt(zip: Buffer): Buffer {
  const copy = Buffer.from(zip)
  const nameLength = copy.readUInt16LE(26)
  const extraLength = copy.readUInt16LE(28)
  const dataStart = 30 + nameLength + extraLength
  for (let i = dataStart + 2; i < dataStart + 8; i++) copy[i] ^= 0xff
  return copy
}
