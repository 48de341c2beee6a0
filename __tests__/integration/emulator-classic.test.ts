import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob'
import { APIM_DEMO, apimRoutes } from '../../emulator/apim.js'
import { startAzurite, type Azurite } from '../../emulator/azurite.js'
import { BatchJobs, classicBesRoutes } from '../../emulator/classic-bes.js'
import { classicRrsRoutes } from '../../emulator/classic-rrs.js'
import { CLASSIC_DEMO, ClassicServices } from '../../emulator/classic.js'
import { FaultController } from '../../emulator/faults.js'
import { Router } from '../../emulator/http.js'
import { DEMO } from '../../emulator/identity.js'
import { createEmulatorServer } from '../../emulator/server.js'
import { emulatedCloud } from '../../emulator/clouds.js'
import { Addressing } from '../../emulator/endpoints.js'

// The published example of the Feature Hashing module (seed 004, Appendix A): hashing bitsize 3, bigrams.
const GOOD_DAY = ['1', '1', '2', '2', '0', '2', '0', '1']
// Computed outside the emulator (a separate Python implementation of VW's murmur3 hashing with bigrams).
const LOVED_BOOK = ['0', '1', '1', '2', '1', '0', '2', '0']
const WITH_NUMBER = ['0', '1', '1', '1', '1', '1', '1', '1'] // "Azure ML 2019 rocks": digits hash to their value
const HASH_COLUMNS = Array.from({ length: 8 }, (_, i) => `Col2_HashingFeature.${i}`)
const STATUS_NAMES = ['NotStarted', 'Running', 'Failed', 'Cancelled', 'Finished']

let azurite: Azurite
let url: string
let closeServer: () => Promise<void>
let jobs: BatchJobs
let container: ContainerClient

before(async () => {
  azurite = await startAzurite()
  const services = new ClassicServices()
  jobs = new BatchJobs({ runDelayMs: 100 })
  const router = new Router()
  router.add(...classicRrsRoutes({ services }), ...classicBesRoutes({ services, jobs }), ...apimRoutes({ services, jobs }))
  const server = createEmulatorServer({ router, faults: new FaultController(), requests: [], location: DEMO.location, addressing: new Addressing(emulatedCloud(), () => url) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  closeServer = () =>
    new Promise<void>(resolve => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('bes-data')
  await container.create()
})
after(async () => {
  await jobs.close()
  await closeServer()
  await azurite.close()
})

const base = (prefix = ''): string => `${url}${prefix}/workspaces/${CLASSIC_DEMO.workspaceId}/services/${CLASSIC_DEMO.serviceId}`
const headers = (apiKey: string = CLASSIC_DEMO.apiKey, extra: Record<string, string> = {}): Record<string, string> => ({
  'Content-Type': 'application/json',
  Authorization: `Bearer ${apiKey}`,
  ...extra
})
const rrsBody = (values: unknown, columns: unknown = ['Col2'], input = 'input1'): string => JSON.stringify({ Inputs: { [input]: { ColumnNames: columns, Values: values } }, GlobalParameters: {} })

async function classicError(res: Response, status: number, code: string, detail?: string): Promise<string> {
  assert.equal(res.status, status)
  const body = (await res.json()) as { error: { code: string; message: string; details: Array<{ code: string; message: string }> } }
  assert.equal(body.error.code, code)
  assert.equal(typeof body.error.message, 'string')
  if (detail) assert.equal(body.error.details[0]?.code, detail, JSON.stringify(body))
  return body.error.details[0]?.message ?? ''
}

describe('classic RRS (SimpleFeatureHashingExperiment)', () => {
  it('hashes each text into 8 bigram-count columns, with column types when details=true', async () => {
    const res = await fetch(`${base()}/execute?api-version=2.0&details=true`, {
      method: 'POST',
      headers: headers(),
      body: rrsBody([['This is a good day'], ['I loved this book'], ['Azure ML 2019 rocks'], ['']])
    })
    assert.equal(res.status, 200)
    const body = (await res.json()) as { Results: { output1: { type: string; value: { ColumnNames: string[]; ColumnTypes: string[]; Values: string[][] } } } }
    const out = body.Results.output1
    assert.equal(out.type, 'table')
    assert.deepEqual(out.value.ColumnNames, ['Col2', ...HASH_COLUMNS])
    assert.deepEqual(out.value.ColumnTypes, ['String', ...HASH_COLUMNS.map(() => 'Int32')])
    assert.deepEqual(out.value.Values, [
      ['This is a good day', ...GOOD_DAY],
      ['I loved this book', ...LOVED_BOOK],
      ['Azure ML 2019 rocks', ...WITH_NUMBER],
      ['', '0', '0', '0', '0', '0', '0', '0', '0']
    ])
  })

  it('leaves ColumnTypes out without details, and speaks the row format with format=swagger', async () => {
    const plain = (await (await fetch(`${base()}/execute?api-version=2.0`, { method: 'POST', headers: headers(), body: rrsBody([['This is a good day']]) })).json()) as {
      Results: { output1: { value: Record<string, unknown> } }
    }
    assert.deepEqual(Object.keys(plain.Results.output1.value), ['ColumnNames', 'Values'])
    const res = await fetch(`${base()}/execute?api-version=2.0&format=swagger`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ Inputs: { input1: [{ Col2: 'I loved this book' }] }, GlobalParameters: {} })
    })
    assert.equal(res.status, 200)
    const rows = ((await res.json()) as { Results: { output1: Array<Record<string, string>> } }).Results.output1
    assert.equal(rows.length, 1)
    assert.deepEqual(HASH_COLUMNS.map(c => rows[0][c]), LOVED_BOOK)
  })

  it('refuses bad requests with the classic error body', async () => {
    const post = (query: string, body: string, h = headers()): Promise<Response> => fetch(`${base()}/execute${query}`, { method: 'POST', headers: h, body })
    const ok = rrsBody([['hi']])
    await classicError(await post('', ok), 400, 'BadArgument', 'BadVersionCall')
    assert.match(await classicError(await post('?api-version=1.0', ok), 400, 'BadArgument', 'BadVersionCall'), /: 1\.0\./)
    assert.match(await classicError(await post('?api-version=2.0', rrsBody([['hi']], ['Col2'], 'input2')), 400, 'BadArgument', 'InvalidInputNames'), /input2/)
    await classicError(await post('?api-version=2.0', rrsBody([['hi']], ['Text'])), 400, 'BadUserArgument', 'InputMismatchError')
    await classicError(await post('?api-version=2.0', rrsBody('hi')), 400, 'BadUserArgument', 'InputParseError')
    await classicError(await post('?api-version=2.0', rrsBody([['hi', 'extra']])), 400, 'BadUserArgument', 'InputParseError')
    await classicError(await post('?api-version=2.0', rrsBody([[{ nested: true }]])), 400, 'BadUserArgument', 'InputParseError')
    await classicError(await post('?api-version=2.0', '{"Inputs": '), 400, 'BadArgument', 'RequestBodyInvalid')
    await classicError(await post('?api-version=2.0', '{"GlobalParameters": {}}'), 400, 'BadArgument', 'MissingRequestInput')
    const withParam = JSON.stringify({ Inputs: { input1: { ColumnNames: ['Col2'], Values: [['hi']] } }, GlobalParameters: { 'Hashing bitsize': '4' } })
    await classicError(await post('?api-version=2.0', withParam), 400, 'BadArgument', 'UnexpectedParameter')
  })

  it('answers 401 for a missing or wrong API key and 404 for an unknown workspace or service', async () => {
    const noKey = await fetch(`${base()}/execute?api-version=2.0`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: rrsBody([['hi']]) })
    assert.match(await classicError(noKey, 401, 'Unauthorized', 'ScoreRequestUnauthorized'), /Invalid credentials/)
    await classicError(await fetch(`${base()}/execute?api-version=2.0`, { method: 'POST', headers: headers('bm90IHRoZSBrZXk='), body: rrsBody([['hi']]) }), 401, 'Unauthorized', 'ScoreRequestUnauthorized')
    const otherWs = `${url}/workspaces/${'0'.repeat(32)}/services/${CLASSIC_DEMO.serviceId}/execute?api-version=2.0`
    await classicError(await fetch(otherWs, { method: 'POST', headers: headers(), body: rrsBody([['hi']]) }), 404, 'NotFound', 'WorkspaceNotFound')
    const otherSvc = `${url}/workspaces/${CLASSIC_DEMO.workspaceId}/services/${'f'.repeat(32)}/execute?api-version=2.0`
    await classicError(await fetch(otherSvc, { method: 'POST', headers: headers(), body: rrsBody([['hi']]) }), 404, 'NotFound', 'WebServiceNotFound')
  })
})

/** Polls a job until it ends; StatusCode may be a name or a number (0–4), as clients meet both. */
async function pollJob(jobUrl: string, h = headers(), until = ['Failed', 'Cancelled', 'Finished']): Promise<{ status: string; raw: unknown; body: Record<string, unknown>; seen: string[] }> {
  const seen: string[] = []
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
    const res = await fetch(`${jobUrl}?api-version=2.0`, { headers: h })
    assert.equal(res.status, 200)
    const body = (await res.json()) as Record<string, unknown>
    const status = typeof body.StatusCode === 'number' ? STATUS_NAMES[body.StatusCode] : String(body.StatusCode)
    if (seen.at(-1) !== status) seen.push(status)
    if (until.includes(status)) return { status, raw: body.StatusCode, body, seen }
    await new Promise(r => setTimeout(r, 25))
  }
  throw new Error(`job ${jobUrl} did not end (seen ${seen.join(' → ')})`)
}

async function submit(payload: unknown, prefix = '', h = headers()): Promise<string> {
  const res = await fetch(`${base(prefix)}/jobs?api-version=2.0`, { method: 'POST', headers: h, body: JSON.stringify(payload) })
  const text = await res.text()
  assert.equal(res.status, 200, text)
  const id = JSON.parse(text) as unknown
  assert.equal(typeof id, 'string')
  assert.match(id as string, /^[0-9a-f]{32}$/)
  return id as string
}

const start = (jobId: string, prefix = '', h = headers()): Promise<Response> => fetch(`${base(prefix)}/jobs/${jobId}/start?api-version=2.0`, { method: 'POST', headers: h })
const blobRef = (relative: string): Record<string, string> => ({ ConnectionString: azurite.connectionString, RelativeLocation: relative })

describe('classic BES against Azurite', () => {
  it('submits, starts, polls and writes the hashed output where Results point, with a read-only SAS', async () => {
    await container.getBlockBlobClient('reviews.csv').upload(...bytes('Col2,Stars\r\n"This is a good day",5\r\n"I loved this book",4\r\n"Azure ML 2019 rocks, really",3\r\n'))
    const jobId = await submit({ Inputs: { input1: blobRef('/bes-data/reviews.csv') }, Outputs: { output1: blobRef('/bes-data/out/hashed.csv') }, GlobalParameters: {} })
    const before = await pollJob(`${base()}/jobs/${jobId}`, headers(), ['NotStarted'])
    assert.deepEqual(before.body, { StatusCode: 'NotStarted', Results: null, Details: null })
    assert.equal((await start(jobId)).status, 200)
    const done = await pollJob(`${base()}/jobs/${jobId}`)
    assert.equal(done.status, 'Finished', JSON.stringify(done.body))
    assert.deepEqual(done.seen, ['Running', 'Finished'])
    const result = (done.body.Results as Record<string, Record<string, string | null>>).output1
    assert.equal(result.BaseLocation, `${azurite.blobEndpoint}/`)
    assert.equal(result.RelativeLocation, 'bes-data/out/hashed.csv')
    assert.match(result.SasBlobToken ?? '', /^\?.*sv=.*sig=/)
    assert.match(result.SasBlobToken ?? '', /sp=r(&|$)/)

    const outputUrl = `${result.BaseLocation}${result.RelativeLocation}${result.SasBlobToken}`
    const download = await fetch(outputUrl)
    assert.equal(download.status, 200)
    const lines = (await download.text()).trim().split('\r\n')
    assert.equal(lines[0], ['Col2', ...HASH_COLUMNS].join(','))
    assert.equal(lines[1], ['This is a good day', ...GOOD_DAY].join(','))
    assert.equal(lines[2], ['I loved this book', ...LOVED_BOOK].join(','))
    assert.match(lines[3], /^"Azure ML 2019 rocks, really",/)
    // The SAS reads; it does not write.
    const overwrite = await fetch(outputUrl, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: 'x' })
    assert.equal(overwrite.status, 403)
    assert.equal((await start(jobId)).status, 400)
  })

  it('accepts the singular Input with no Outputs (default location) and numeric status codes', async () => {
    jobs.configure({ statusCodes: 'numbers' })
    try {
      await container.getBlockBlobClient('single.csv').upload(...bytes('Col2\nThis is a good day\n'))
      const jobId = await submit({ Input: blobRef('/bes-data/single.csv'), Outputs: null, GlobalParameters: null })
      assert.equal((await start(jobId)).status, 200)
      const done = await pollJob(`${base()}/jobs/${jobId}`)
      assert.equal(done.raw, 4)
      const result = (done.body.Results as Record<string, Record<string, string>>).output1
      assert.equal(result.RelativeLocation, `bes-data/${jobId}-output1.csv`)
      const text = await (await fetch(`${result.BaseLocation}${result.RelativeLocation}${result.SasBlobToken}`)).text()
      assert.equal(text.trim().split('\r\n')[1], ['This is a good day', ...GOOD_DAY].join(','))
    } finally {
      jobs.configure({ statusCodes: 'names' })
    }
  })

  it('answers a job given a SAS connection string with a bare BaseLocation and a read-only SAS of the output blob', async () => {
    const sasConnection = azurite.sasConnectionString()
    const accountSas = sasConnection.split('SharedAccessSignature=')[1]
    await container.getBlockBlobClient('sas-in.csv').upload(...bytes('Col2\nThis is a good day\n'))
    const ref = (relative: string) => ({ ConnectionString: sasConnection, RelativeLocation: relative })
    const jobId = await submit({ Input: ref('/bes-data/sas-in.csv'), Outputs: { output1: ref('/bes-data/sas-out.tsv') } })
    assert.equal((await start(jobId)).status, 200)
    const done = await pollJob(`${base()}/jobs/${jobId}`)
    assert.equal(done.status, 'Finished', JSON.stringify(done.body))
    const result = (done.body.Results as Record<string, Record<string, string>>).output1
    assert.equal(result.BaseLocation, `${azurite.blobEndpoint}/`, 'no query in BaseLocation')
    const sas = new URLSearchParams(result.SasBlobToken.replace(/^\?/, ''))
    assert.equal(sas.get('sp'), 'r', 'read-only')
    assert.equal(sas.get('sr'), 'b', 'scoped to the blob')
    assert.notEqual(sas.get('sig'), new URLSearchParams(accountSas).get('sig'), "not the caller's own SAS")
    const url = `${result.BaseLocation}${result.RelativeLocation}${result.SasBlobToken}`
    const download = await fetch(url)
    assert.equal(download.status, 200)
    assert.equal((await download.text()).split('\r\n')[1], ['This is a good day', ...GOOD_DAY].join('\t'))
    const other = await fetch(`${result.BaseLocation}bes-data/sas-in.csv${result.SasBlobToken}`)
    assert.equal(other.status, 403, 'the SAS opens no other blob')
  })

  it('fails a job whose input blob does not exist, with Storage’s message in Details', async () => {
    const jobId = await submit({ Inputs: { input1: blobRef('/bes-data/missing.csv') }, Outputs: null })
    await start(jobId)
    const done = await pollJob(`${base()}/jobs/${jobId}`)
    assert.equal(done.status, 'Failed')
    assert.equal(done.body.Results, null)
    assert.match(String(done.body.Details), /BlobNotFound.*\/bes-data\/missing\.csv.*does not exist/)
  })

  it('fails a job whose input has no Col2 column (only Text)', async () => {
    await container.getBlockBlobClient('wrong.csv').upload(...bytes('Text\nhello\n'))
    const jobId = await submit({ Inputs: { input1: blobRef('/bes-data/wrong.csv') } })
    await start(jobId)
    const done = await pollJob(`${base()}/jobs/${jobId}`)
    assert.equal(done.status, 'Failed')
    assert.match(String(done.body.Details), /InputMismatchError/)
  })

  it('cancels a running job on DELETE, and no output is written', async () => {
    jobs.configure({ runDelayMs: 10_000 })
    try {
      await container.getBlockBlobClient('slow.csv').upload(...bytes('Col2\nslow\n'))
      const jobId = await submit({ Inputs: { input1: blobRef('/bes-data/slow.csv') }, Outputs: { output1: blobRef('/bes-data/slow-out.csv') } })
      await start(jobId)
      assert.equal((await pollJob(`${base()}/jobs/${jobId}`, headers(), ['Running'])).status, 'Running')
      const del = await fetch(`${base()}/jobs/${jobId}?api-version=2.0`, { method: 'DELETE', headers: headers() })
      assert.equal(del.status, 200)
      const done = await pollJob(`${base()}/jobs/${jobId}`)
      assert.equal(done.status, 'Cancelled')
      assert.equal(done.body.Results, null)
      assert.equal(await container.getBlockBlobClient('slow-out.csv').exists(), false)
    } finally {
      jobs.configure({ runDelayMs: 100 })
    }
  })

  it('refuses bad submissions and unknown jobs with the classic error body', async () => {
    const post = (payload: unknown): Promise<Response> => fetch(`${base()}/jobs?api-version=2.0`, { method: 'POST', headers: headers(), body: JSON.stringify(payload) })
    await classicError(await post({ Outputs: null }), 400, 'BadArgument', 'BatchJobInputsNotSpecified')
    await classicError(await post({ Input: blobRef('/bes-data/a.csv'), Inputs: { input1: blobRef('/bes-data/a.csv') } }), 400, 'BadArgument', 'DuplicateInputInBatchCall')
    await classicError(await post({ Inputs: { data: blobRef('/bes-data/a.csv') } }), 400, 'BadArgument', 'InvalidInputNames')
    await classicError(await post({ Inputs: { input1: { RelativeLocation: '/bes-data/a.csv' } } }), 400, 'BadArgument', 'MissingInputBlobInformation')
    await classicError(await post({ Inputs: { input1: blobRef('a.csv') } }), 400, 'BadArgument', 'ContainerIsEmpty')
    await classicError(await post({ Inputs: { input1: blobRef('/bes-data/a.csv') }, Outputs: { output2: blobRef('/bes-data/o.csv') } }), 400, 'BadArgument', 'InvalidOutputOverrideName')
    await classicError(await post({ Inputs: { input1: blobRef('/bes-data/a.csv') }, Outputs: { output1: blobRef('/bes-data/o.json') } }), 400, 'BadArgument', 'InvalidBlobExtension')
    const remote = 'DefaultEndpointsProtocol=https;AccountName=realaccount;AccountKey=' + Buffer.alloc(64).toString('base64') + ';EndpointSuffix=core.windows.net'
    await classicError(await post({ Inputs: { input1: { ConnectionString: remote, RelativeLocation: '/bes-data/a.csv' } } }), 400, 'BadArgument', 'InvalidBlob')
    await classicError(await fetch(`${base()}/jobs/${'a'.repeat(32)}?api-version=2.0`, { headers: headers() }), 404, 'NotFound', 'JobNotFound')
    await classicError(await fetch(`${base()}/jobs?api-version=2.0`, { method: 'POST', headers: headers('wrong'), body: '{}' }), 401, 'Unauthorized', 'ScoreRequestUnauthorized')
  })
})

describe('API Management in front of the classic service', () => {
  const apim = (suffix: string): string => `${base(APIM_DEMO.prefix)}${suffix}`

  it('answers 401 from the gateway without or with a wrong subscription key', async () => {
    const missing = await fetch(apim('/execute?api-version=2.0&details=true'), { method: 'POST', headers: headers(), body: rrsBody([['hi']]) })
    assert.equal(missing.status, 401)
    assert.match(missing.headers.get('www-authenticate') ?? '', /^AzureApiManagementKey /)
    assert.deepEqual(await missing.json(), {
      statusCode: 401,
      message: 'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.'
    })
    const wrong = await fetch(apim('/execute?api-version=2.0'), { method: 'POST', headers: headers(CLASSIC_DEMO.apiKey, { 'Ocp-Apim-Subscription-Key': '0'.repeat(32) }), body: rrsBody([['hi']]) })
    assert.equal(wrong.status, 401)
    const body = (await wrong.json()) as { statusCode: number; message: string }
    assert.equal(body.statusCode, 401)
    assert.match(body.message, /invalid subscription key/)
  })

  it("passes through to the service, whose own 401 (wrong API key) keeps the classic body", async () => {
    const ok = await fetch(apim('/execute?api-version=2.0&details=true'), {
      method: 'POST',
      headers: headers(CLASSIC_DEMO.apiKey, { 'Ocp-Apim-Subscription-Key': APIM_DEMO.primaryKey }),
      body: rrsBody([['This is a good day']])
    })
    assert.equal(ok.status, 200)
    const values = ((await ok.json()) as { Results: { output1: { value: { Values: string[][] } } } }).Results.output1.value.Values
    assert.deepEqual(values, [['This is a good day', ...GOOD_DAY]])

    const byQuery = await fetch(apim(`/execute?api-version=2.0&subscription-key=${APIM_DEMO.secondaryKey}`), { method: 'POST', headers: headers(), body: rrsBody([['x']]) })
    assert.equal(byQuery.status, 200)

    const wrongServiceKey = await fetch(apim('/execute?api-version=2.0'), {
      method: 'POST',
      headers: headers('d3JvbmcgYXBpIGtleQ==', { 'Ocp-Apim-Subscription-Key': APIM_DEMO.primaryKey }),
      body: rrsBody([['hi']])
    })
    await classicError(wrongServiceKey, 401, 'Unauthorized', 'ScoreRequestUnauthorized')
  })

  it('runs a BES job through the gateway and answers 404 for an operation the API does not declare', async () => {
    const h = headers(CLASSIC_DEMO.apiKey, { 'Ocp-Apim-Subscription-Key': APIM_DEMO.primaryKey })
    await container.getBlockBlobClient('apim.csv').upload(...bytes('Col2\nI loved this book\n'))
    const jobId = await submit({ Inputs: { input1: blobRef('/bes-data/apim.csv') }, Outputs: null }, APIM_DEMO.prefix, h)
    assert.equal((await start(jobId, APIM_DEMO.prefix, h)).status, 200)
    assert.equal((await pollJob(apim(`/jobs/${jobId}`), h)).status, 'Finished')
    assert.equal((await fetch(apim(`/jobs/${jobId}?api-version=2.0`), { headers: headers() })).status, 401)
    const unknown = await fetch(apim('/swagger.json'), { headers: h })
    assert.equal(unknown.status, 404)
    assert.deepEqual(await unknown.json(), { statusCode: 404, message: 'Resource not found' })
  })
})

function bytes(text: string): [Buffer, number] {
  const b = Buffer.from(text, 'utf8')
  return [b, b.length]
}
