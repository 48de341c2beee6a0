/**
 * classic-batch through the bundled action: the Batch Execution Service of the classic
 * "SimpleFeatureHashingExperiment" web service, with its blob storage in Azurite — uploads with an account
 * key or a SAS, API Management, numeric status codes, a lost start answer, timeout, workflow cancellation,
 * the post step after a killed main step, and a hostile answer.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BlobSASPermissions, BlobServiceClient, generateBlobSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob'
import { APIM_DEMO, CLASSIC_DEMO, startAzurite, type Azurite, type Emulator } from '../../emulator/index.js'
import { runAction } from '../../scripts/action-runner.js'
import { assertNoLeaks, emulatorsFor, errorText, runAgainst, runAndSignal, tempWorkspace } from '../helpers/e2e.js'

let azurite: Azurite
const emulators = emulatorsFor()
let shared: Emulator
before(async () => {
  ;[azurite, shared] = await Promise.all([startAzurite(), emulators.start()])
})
after(async () => {
  await Promise.all([emulators.closeAll(), azurite.close()])
})

const POST = 'dist/post/index.js'
const REVIEWS = 'Col2,Stars\r\n"This is a good day",5\r\n"I loved this book",4\r\n'
const classicUrl = (emulator: Emulator, gateway = '') => `${emulator.url}${gateway}/workspaces/${CLASSIC_DEMO.workspaceId}/services/${CLASSIC_DEMO.serviceId}`
const isDelete = (jobId: string) => (r: Emulator['requests'][number]) => r.method === 'DELETE' && r.path.endsWith(`/jobs/${jobId}`)

/** The inputs that upload `file` to Azurite and run the demo service's batch job on it. */
function upload(emulator: Emulator, file: string, container: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    operation: 'classic-batch',
    'classic-service-url': classicUrl(emulator),
    'classic-api-key': CLASSIC_DEMO.apiKey,
    'classic-input-file': file,
    'storage-connection-string': azurite.connectionString,
    'storage-container': container,
    ...extra
  }
}
const SECRETS = () => [CLASSIC_DEMO.apiKey, azurite.accountKey, azurite.connectionString]

/** The job's status as the service reports it (`GET …/jobs/{id}`). */
async function jobStatus(emulator: Emulator, jobId: string): Promise<unknown> {
  const res = await fetch(`${classicUrl(emulator)}/jobs/${jobId}?api-version=2.0`, { headers: { Authorization: `Bearer ${CLASSIC_DEMO.apiKey}` } })
  assert.equal(res.status, 200)
  return ((await res.json()) as { StatusCode: unknown }).StatusCode
}

/** A workspace folder for one test, removed when the process ends. */
function workspace(files: Record<string, string>): string {
  const ws = tempWorkspace(files)
  process.once('exit', ws.cleanup)
  return ws.root
}

/** The values the run asked the runner to mask (`::add-mask::` commands, unescaped). */
function maskedBy(run: { stdout: string }): string[] {
  return run.stdout
    .split('\n')
    .filter(l => l.startsWith('::add-mask::'))
    .map(l => l.slice('::add-mask::'.length).replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%'))
}
const running = (line: string) => /^Batch job [0-9a-f]+: Running$/.test(line)

describe('classic-batch (bundled action, local Azure ML service, Azurite)', { concurrency: 4 }, () => {
  it('uploads the input file, runs the job and downloads the outputs (no SAS in the result)', async () => {
    const root = workspace({ 'reviews.csv': REVIEWS })
    const run = await runAgainst(shared, upload(shared, 'reviews.csv', 'bes-e2e', { 'classic-output-directory': 'out' }), { workspace: root, secrets: SECRETS() })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.match(run.outputs['job-id'], /^[0-9a-f]{32}$/)
    const result = JSON.parse(run.outputs.result) as Record<string, { location: string; file: string }>
    assert.ok(!/sig=|AccountKey/i.test(run.outputs.result), 'no credential in the result')
    assert.match(result.output1.location, /\/bes-e2e\/azureml-action\/.*output1\.csv$/)
    const csv = readFileSync(path.join(root, 'out', 'output1.csv'), 'utf8').trim().split(/\r?\n/)
    assert.equal(csv.length, 3, 'a header and one row per review')
    assert.match(csv[1], /This is a good day/)
    assert.match(run.stdout, /Batch job [0-9a-f]+: Finished/)
  })

  it('works with a SAS connection string: upload, job and download, and no SAS signature anywhere', async () => {
    const connectionString = azurite.sasConnectionString()
    const sas = connectionString.split('SharedAccessSignature=')[1]
    const signature = new URLSearchParams(sas).get('sig')!
    const root = workspace({ 'reviews.csv': REVIEWS })
    const run = await runAgainst(shared, upload(shared, 'reviews.csv', 'bes-sas', { 'storage-connection-string': connectionString, 'classic-output-directory': 'out' }), {
      workspace: root,
      secrets: [CLASSIC_DEMO.apiKey, connectionString, sas, signature]
    })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.ok(maskedBy(run).includes(sas), 'the SAS inside the connection string is masked')
    assert.match(run.stdout, /^Uploaded reviews\.csv to http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/bes-sas\/azureml-action\/[^?\s]+\/reviews\.csv$/m)
    const result = JSON.parse(run.outputs.result) as Record<string, { location: string }>
    assert.equal(result.output1.location.startsWith(`${azurite.blobEndpoint}/bes-sas/`), true, result.output1.location)
    const csv = readFileSync(path.join(root, 'out', 'output1.csv'), 'utf8').trim().split(/\r?\n/)
    assert.equal(csv.length, 3)
  })

  it('writes the output in the input\'s format when BES can (.tsv), else as .csv (a .txt input)', async () => {
    const root = workspace({ 'reviews.tsv': 'Col2\tStars\nThis is a good day\t5\n', 'reviews.txt': 'Col2\nThis is a good day\n' })
    const [tsv, txt] = await Promise.all(
      ['reviews.tsv', 'reviews.txt'].map(file => runAgainst(shared, upload(shared, file, 'bes-formats', { 'classic-output-directory': `out-${path.extname(file).slice(1)}` }), { workspace: root, secrets: SECRETS() }))
    )
    assert.equal(tsv.code, 0, tsv.stdout)
    assert.equal(txt.code, 0, txt.stdout)
    assert.deepEqual(readdirSync(path.join(root, 'out-tsv')), ['output1.tsv'])
    assert.deepEqual(readdirSync(path.join(root, 'out-txt')), ['output1.csv'])
    assert.match(readFileSync(path.join(root, 'out-tsv', 'output1.tsv'), 'utf8').split(/\r?\n/)[1], /^This is a good day\t1\t1\t2\t2\t0\t2\t0\t1$/)
  })

  it('with a payload that points at a missing blob, fails with the job\'s Details', async () => {
    const payload = { Inputs: { input1: { ConnectionString: azurite.connectionString, RelativeLocation: '/bes-e2e/missing.csv' } }, Outputs: null, GlobalParameters: {} }
    const run = await runAgainst(shared, { operation: 'classic-batch', 'classic-service-url': classicUrl(shared), 'classic-api-key': CLASSIC_DEMO.apiKey, 'classic-input': JSON.stringify(payload) }, { secrets: SECRETS() })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /Batch job [0-9a-f]+ ended Failed: .*missing\.csv/)
  })

  it('masks the credentials inside a classic-input payload (connection string, account key, SAS token)', async () => {
    const blobSas = generateBlobSASQueryParameters(
      { containerName: 'bes-e2e', blobName: 'out.csv', permissions: BlobSASPermissions.parse('rw'), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey)
    ).toString()
    const payload = {
      Input: { ConnectionString: azurite.connectionString, RelativeLocation: '/bes-e2e/absent.csv' },
      Outputs: { output1: { BaseLocation: `${azurite.blobEndpoint}/`, RelativeLocation: 'bes-e2e/out.csv', SasBlobToken: `?${blobSas}` } },
      GlobalParameters: {}
    }
    const root = workspace({ 'payload.json': JSON.stringify(payload) })
    const run = await runAgainst(shared, { operation: 'classic-batch', 'classic-service-url': classicUrl(shared), 'classic-api-key': CLASSIC_DEMO.apiKey, 'classic-input-file': 'payload.json' }, { workspace: root, secrets: [...SECRETS(), blobSas] })
    assert.equal(run.code, 1, 'the input blob does not exist')
    const masked = maskedBy(run)
    for (const [what, secret] of [['connection string', azurite.connectionString], ['account key', azurite.accountKey], ['SAS token', blobSas], ['SAS signature', new URLSearchParams(blobSas).get('sig')!]]) {
      assert.ok(masked.includes(secret), `the ${what} is masked`)
    }
  })

  it('malformed classic-input: an error naming the input, and nothing is sent', async () => {
    const quiet = await emulators.start()
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ 'classic-input': '{"Input": {"ConnectionString": ' }, /^Input 'classic-input': is not valid JSON/],
      [{ 'classic-input': '{"Outputs": {}}' }, /^Input 'classic-input': must be a JSON object with "Inputs" \(or "Input"\)/],
      [{ 'classic-input': '["Input"]' }, /^Input 'classic-input': must be a JSON object/]
    ]
    for (const [inputs, message] of cases) {
      const run = await runAgainst(quiet, { operation: 'classic-batch', 'classic-service-url': classicUrl(quiet), 'classic-api-key': CLASSIC_DEMO.apiKey, ...inputs })
      assert.equal(run.code, 1)
      assert.match(errorText(run), message)
    }
    assert.deepEqual(quiet.requests, [], 'nothing was sent')
  })

  it('through API Management: runs with the subscription key, and a wrong one gets an error naming it', async () => {
    const emulator = await emulators.start()
    const root = workspace({ 'reviews.csv': REVIEWS })
    const gateway = { 'classic-service-url': classicUrl(emulator, APIM_DEMO.prefix), 'apim-subscription-key': APIM_DEMO.secondaryKey }
    const ok = await runAgainst(emulator, upload(emulator, 'reviews.csv', 'bes-apim', gateway), { workspace: root, secrets: [...SECRETS(), APIM_DEMO.secondaryKey] })
    assert.equal(ok.code, 0, ok.stdout)
    const calls = ok.requests.map(r => `${r.method} ${r.path.replace(/[0-9a-f]{32}/g, '{id}')}`)
    const job = `${APIM_DEMO.prefix}/workspaces/{id}/services/{id}/jobs`
    assert.deepEqual([...new Set(calls)], [`POST ${job}`, `POST ${job}/{id}/start`, `GET ${job}/{id}`], 'every BES call went through the gateway')
    assert.equal(await jobStatus(emulator, ok.outputs['job-id']), 'Finished')

    const wrong = await runAgainst(emulator, upload(emulator, 'reviews.csv', 'bes-apim', { ...gateway, 'apim-subscription-key': '0123456789abcdef0123456789abcdef' }), { workspace: root, secrets: SECRETS() })
    assert.equal(wrong.code, 1)
    assert.match(errorText(wrong), /^submitting the batch job: HTTP 401 .*invalid subscription key[\s\S]*Hint: API Management refused the subscription key: check `apim-subscription-key`/)
    assert.equal(wrong.outputs['job-id'], undefined)
  })

  it('reads numeric status codes (4 = Finished)', async () => {
    const numeric = await emulators.start({ batchJobs: { statusCodes: 'numbers' } })
    const root = workspace({ 'reviews.csv': REVIEWS })
    const run = await runAgainst(numeric, upload(numeric, 'reviews.csv', 'bes-numbers', { 'classic-output-directory': 'out' }), { workspace: root, secrets: SECRETS() })
    assert.equal(run.code, 0, run.stdout)
    assert.equal(await jobStatus(numeric, run.outputs['job-id']), 4, 'the service spoke numbers')
    assert.match(run.stdout, /Batch job [0-9a-f]+: Running\n[\s\S]*Batch job [0-9a-f]+: Finished/)
    assert.ok(existsSync(path.join(root, 'out', 'output1.csv')))
  })

  it("carries on when the start's answer is lost and the resent start finds the job already running", async () => {
    const emulator = await emulators.start()
    emulator.faults.add({ method: 'POST', path: '/start$', kind: 'reset', afterHandling: true, times: 1 })
    const root = workspace({ 'reviews.csv': REVIEWS })
    const run = await runAgainst(emulator, upload(emulator, 'reviews.csv', 'bes-lost-start'), { workspace: root, secrets: SECRETS() })
    assert.equal(run.code, 0, run.stdout)
    const starts = run.requests.filter(r => r.method === 'POST' && r.path.endsWith('/start'))
    assert.deepEqual(starts.map(r => [r.fault ?? null, r.status]), [['reset', 0], [null, 400]], 'the first start was handled but its answer lost; the resend was refused')
    assert.match(run.stdout, /the start went through, though its answer was lost/)
    assert.equal(await jobStatus(emulator, run.outputs['job-id']), 'Finished')
  })

  it('deletes the job when timeout-minutes passes, and the job ends Cancelled', async () => {
    const slow = await emulators.start({ batchJobs: { runDelayMs: 60_000 } })
    const root = workspace({ 'one.csv': 'Col2\nslow day\n' })
    const run = await runAgainst(slow, upload(slow, 'one.csv', 'bes-slow', { 'timeout-minutes': '0.03' }), { workspace: root, secrets: SECRETS() })
    assert.equal(run.code, 1)
    const jobId = run.outputs['job-id']
    assert.match(errorText(run), new RegExp(`^Batch job ${jobId} did not finish within timeout-minutes .*; batch job ${jobId} was deleted\\.`))
    assert.equal(run.requests.filter(isDelete(jobId)).length, 1)
    assert.equal(await jobStatus(slow, jobId), 'Cancelled')
    assert.equal(run.state['azureml-batch-job-to-delete'] ?? '', '', 'nothing left for the post step')
  })

  it('when the delete fails on timeout, says the job may still run and leaves it to the post step, which deletes it', async () => {
    const slow = await emulators.start({ batchJobs: { runDelayMs: 60_000 } })
    slow.faults.add({ method: 'DELETE', path: '/jobs/', kind: 'status', status: 403, times: 1 })
    const root = workspace({ 'one.csv': 'Col2\nslow day\n' })
    const inputs = upload(slow, 'one.csv', 'bes-undeleted', { 'timeout-minutes': '0.03' })
    const main = await runAgainst(slow, inputs, { workspace: root, secrets: SECRETS() })
    assert.equal(main.code, 1)
    const jobId = main.outputs['job-id']
    assert.match(errorText(main), new RegExp(`did not finish within timeout-minutes .*; batch job ${jobId} could not be deleted and may still be running\\.`))
    assert.doesNotMatch(errorText(main), /was deleted/)
    assert.match(main.stdout, new RegExp(`::warning::Could not delete batch job ${jobId}: .*HTTP 403`))
    assert.equal(await jobStatus(slow, jobId), 'Running')
    assert.equal(JSON.parse(main.state['azureml-batch-job-to-delete']).jobId, jobId, 'the job is left for the post step')

    const post = await runAgainst(slow, inputs, { workspace: root, entry: POST, stateFile: main.stateFile, secrets: SECRETS() })
    assert.equal(post.code, 0, post.stdout)
    assert.match(post.stdout, new RegExp(`^Deleted batch job ${jobId}: the step that started it stopped before it ended\\.$`, 'm'))
    assert.equal(await jobStatus(slow, jobId), 'Cancelled')
  })

  it('a cancelled workflow (SIGINT) deletes the job, which ends Cancelled', async () => {
    const slow = await emulators.start({ batchJobs: { runDelayMs: 60_000 } })
    const root = workspace({ 'one.csv': 'Col2\nslow day\n' })
    const run = await runAndSignal(slow, upload(slow, 'one.csv', 'bes-sigint'), 'SIGINT', running, { workspace: root, secrets: SECRETS() })
    const jobId = run.outputs['job-id']
    assert.equal(run.signal, null, 'the action handled the signal and exited on its own')
    assert.equal(run.code, 1)
    assert.equal(errorText(run), `The workflow was cancelled; batch job ${jobId} was deleted.`)
    assert.equal(run.requests.filter(isDelete(jobId)).length, 1)
    assert.equal(await jobStatus(slow, jobId), 'Cancelled')
    assert.equal(run.state['azureml-batch-job-to-delete'], '', 'nothing left for the post step')
  })

  it('the post step deletes the job a killed main step left running', async () => {
    const slow = await emulators.start({ batchJobs: { runDelayMs: 60_000 } })
    const root = workspace({ 'one.csv': 'Col2\nslow day\n' })
    const inputs = upload(slow, 'one.csv', 'bes-orphan')
    const main = await runAndSignal(slow, inputs, 'SIGKILL', running, { workspace: root, secrets: SECRETS() })
    assert.equal(main.signal, 'SIGKILL')
    const jobId = main.outputs['job-id']
    assert.equal(await jobStatus(slow, jobId), 'Running', 'still running after the main step died')
    const post = await runAgainst(slow, inputs, { workspace: root, entry: POST, stateFile: main.stateFile, secrets: SECRETS() })
    assert.equal(post.code, 0, post.stdout)
    assert.deepEqual(post.requests.map(r => `${r.method} ${r.status}`), ['DELETE 200'])
    assert.equal(await jobStatus(slow, jobId), 'Cancelled')
  })

  it('refuses an output name that is a path, writing nothing outside classic-output-directory', async () => {
    // A service whose answer is hostile: its Results name an output '../escape', with a real blob behind it.
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('bes-hostile')
    await container.createIfNotExists()
    await container.getBlockBlobClient('result.csv').upload('a,b\n', 4)
    const sas = generateBlobSASQueryParameters(
      { containerName: 'bes-hostile', blobName: 'result.csv', permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey)
    ).toString()
    const results = { '../escape': { ConnectionString: null, BaseLocation: `${azurite.blobEndpoint}/`, RelativeLocation: 'bes-hostile/result.csv', SasBlobToken: `?${sas}` } }
    const stub = await hostileService(results)
    const root = workspace({})
    try {
      const payload = { Input: { ConnectionString: azurite.connectionString, RelativeLocation: '/bes-hostile/in.csv' } }
      const run = await runAction(
        { operation: 'classic-batch', 'classic-service-url': `${stub.url}/workspaces/${CLASSIC_DEMO.workspaceId}/services/${CLASSIC_DEMO.serviceId}`, 'classic-api-key': CLASSIC_DEMO.apiKey, 'classic-input': JSON.stringify(payload), 'classic-output-directory': 'out/batch' },
        { workspace: root }
      )
      assertNoLeaks(run, [...SECRETS(), sas])
      assert.equal(run.code, 1)
      assert.match(errorText(run), /output name "\.\.\/escape" is not a plain file name/)
      assert.ok(!existsSync(path.join(root, 'out', 'escape.csv')), 'nothing written next to the output directory')
      assert.deepEqual(readdirSync(path.join(root, 'out', 'batch')), [])
    } finally {
      await stub.close()
    }
  })
})

/** A BES endpoint whose jobs finish at once with these Results (the client must not trust their names). */
async function hostileService(results: unknown): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume()
    const reply = (body: unknown): void => void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body))
    if (req.method === 'POST' && /\/jobs\?/.test(req.url ?? '')) reply('0123456789abcdef0123456789abcdef')
    else if (req.method === 'POST' && /\/start\?/.test(req.url ?? '')) res.writeHead(200).end()
    else if (req.method === 'GET') reply({ StatusCode: 'Finished', Results: results, Details: null })
    else res.writeHead(404).end()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise(resolve => server.close(() => resolve()))
  }
}
