/**
 * The local service under Azure's real host names (its `azureHostNames` mode), on the wire: a CONNECT tunnel
 * through its forward proxy, TLS checked against its test CA, and each host serving only its own service —
 * links in answers (discoveryUrl, blob SAS URLs) use the cloud's names, as Azure's do.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { definition, getToken, pollRun, submit, workspacePath } from '../helpers/emulator-client.js'

let emulator: Emulator
let ca: Buffer
let token: string
before(async () => {
  emulator = await startEmulator({ port: 0, azureHostNames: true })
  ca = readFileSync(emulator.azureHostNames!.caFile)
  token = await getToken(emulator)
})
after(() => emulator.close())

interface Answer {
  status: number
  headers: IncomingMessage['headers']
  body: string
}

/** Opens a CONNECT tunnel through the proxy; the proxy's own answer when it refuses. */
function tunnel(target: string, headers: Record<string, string> = {}): Promise<{ status: number; socket: Socket }> {
  const proxy = new URL(emulator.azureHostNames!.proxyUrl)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: target, headers })
    req.once('connect', (res: IncomingMessage, socket: Socket) => resolve({ status: res.statusCode ?? 0, socket }))
    req.once('error', reject)
    req.end()
  })
}

/** An https request through the proxy, trusting only the service's CA. */
async function viaProxy(url: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const target = new URL(url)
  const { status, socket } = await tunnel(`${target.hostname}:${target.port || 443}`)
  if (status !== 200) {
    socket.destroy()
    return { status, headers: {}, body: '' }
  }
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: target.hostname, path: `${target.pathname}${target.search}`, method: init.method ?? 'GET', headers: init.headers, createConnection: () => tlsConnect({ socket, servername: target.hostname, ca }) },
      res => {
        let body = ''
        res.setEncoding('utf8').on('data', (c: string) => (body += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      }
    )
    req.once('error', reject)
    req.end()
  })
}

const auth = () => ({ Authorization: `Bearer ${token}` })

describe('Azure host names over TLS, through the forward proxy', () => {
  it('ARM on management.azure.com links the workspace to its regional data plane by name', async () => {
    const ws = await viaProxy(`https://management.azure.com${workspacePath(emulator)}?api-version=2019-11-01`, { headers: auth() })
    assert.equal(ws.status, 200, ws.body)
    assert.equal((JSON.parse(ws.body) as { properties: { discoveryUrl: string } }).properties.discoveryUrl, 'https://eastus.api.azureml.ms/discovery')
    const discovery = await viaProxy('https://eastus.api.azureml.ms/discovery', { headers: auth() })
    assert.equal((JSON.parse(discovery.body) as { api: string }).api, 'https://eastus.api.azureml.ms')
    assert.deepEqual(
      emulator.requests.slice(-2).map(r => `${r.host} ${r.path}`),
      [`management.azure.com ${workspacePath(emulator)}`, 'eastus.api.azureml.ms /discovery']
    )
  })

  it('a token from login.microsoftonline.com works there; each host refuses the paths of other services', async () => {
    const tokenAnswer = await viaProxy(`https://login.microsoftonline.com/${emulator.identity.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' }
    })
    assert.equal(tokenAnswer.status, 400, 'the token endpoint itself answers (a body is required)')
    const armOnDataPlane = await viaProxy(`https://eastus.api.azureml.ms${workspacePath(emulator)}?api-version=2019-11-01`, { headers: auth() })
    assert.equal(armOnDataPlane.status, 404)
    assert.match(armOnDataPlane.body, /does not serve/)
    const historyOnArm = await viaProxy(`https://management.azure.com/history/v1.0${workspacePath(emulator)}/experiments?api-version=2019-11-01`, { headers: auth() })
    assert.equal(historyOnArm.status, 404)
    const otherRegion = await viaProxy(`https://westus.api.azureml.ms/discovery`)
    assert.equal(otherRegion.status, 502, 'a host of no emulated service is not reachable through the proxy')
  })

  it('the proxy tunnels only the cloud\'s hosts (and this machine), and TLS fails without the test CA', async () => {
    for (const target of ['example.com:443', 'login.microsoftonline.us:443', 'management.azure.com:80']) {
      const { status, socket } = await tunnel(target)
      socket.destroy()
      assert.equal(status, 502, target)
    }
    const { socket } = await tunnel('management.azure.com:443')
    const failure = await new Promise<Error>(resolve => {
      const tls = tlsConnect({ socket, servername: 'management.azure.com' })
      tls.once('error', resolve)
      tls.once('secureConnect', () => resolve(new Error('connected without trusting the CA')))
    })
    assert.match(failure.message, /self[- ]signed|unable to (verify|get local issuer)/i)
    const proxied = emulator.azureHostNames!.proxied.filter(p => p.target === 'example.com:443')
    assert.deepEqual(proxied, [{ method: 'CONNECT', target: 'example.com:443', status: 502 }])
  })

  it('blob URLs in answers name the storage account host, and that host serves them with the SAS', async () => {
    const details = await viaProxy(`https://eastus.api.azureml.ms/history/v1.0${workspacePath(emulator)}/experiments/none/runs/none/details?api-version=2019-11-01`, { headers: auth() })
    assert.equal(details.status, 404, 'no such run, but an answer from history')
    // An artifact of a real run: start one through the loopback origin and read its log through its blob host.
    const runId = await submit(emulator, token, { experiment: 'hostnames', files: { 'hello.py': 'print("hello over TLS")\n' }, definition: definition('hello.py') })
    await pollRun(emulator, token, 'hostnames', runId)
    const runDetails = await viaProxy(`https://eastus.api.azureml.ms/history/v1.0${workspacePath(emulator)}/experiments/hostnames/runs/${runId}/details?api-version=2019-11-01`, { headers: auth() })
    assert.equal(runDetails.status, 200, runDetails.body)
    const contentUri = (JSON.parse(runDetails.body) as { logFiles: Record<string, string> }).logFiles['azureml-logs/70_driver_log.txt']
    assert.match(contentUri, /^https:\/\/localwsstorage\.blob\.core\.windows\.net\/azureml\/ExperimentRun\/dcid\.[^/]+\/azureml-logs\/70_driver_log\.txt\?.*sig=/)
    const blob = await viaProxy(contentUri)
    assert.equal(blob.status, 200)
    assert.match(blob.body, /hello over TLS/)
    const unsigned = await viaProxy(contentUri.replace(/sig=[^&]+/, 'sig=AAAA'))
    assert.equal(unsigned.status, 403)
  })

  it('a proxy with credentials answers 407 without them', async () => {
    const locked = await startEmulator({ port: 0, azureHostNames: { proxyCredentials: { username: 'u', password: 'p' } } })
    try {
      const proxy = new URL(locked.azureHostNames!.proxyUrl)
      assert.equal(proxy.username, 'u')
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: 'management.azure.com:443' })
        req.once('connect', (res: IncomingMessage, socket: Socket) => {
          socket.destroy()
          resolve(res.statusCode ?? 0)
        })
        req.once('error', reject)
        req.end()
      })
      assert.equal(status, 407)
    } finally {
      await locked.close()
    }
  })
})
