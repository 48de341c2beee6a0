/**
 * Other clouds and proxies, through the bundled action. The local Azure ML service answers on Azure's real
 * host names over TLS (its `azureHostNames` mode): the action runs with NO endpoint overrides, HTTPS_PROXY
 * points at a forward proxy on loopback that counts every connection and tunnels Azure's names to the local
 * service, and NODE_EXTRA_CA_CERTS trusts its test CA — the setup of a runner behind a corporate proxy.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CLASSIC_DEMO, startAzurite, startEmulator, type Emulator, type EmulatorOptions } from '../../emulator/index.js'
import { errorText, runAgainst, tempWorkspace } from '../helpers/e2e.js'

let ws: { root: string; cleanup(): void }
before(() => {
  ws = tempWorkspace({ 'train.py': 'from azureml.core import Run\nRun.get_context().log("accuracy", 0.91)\nprint("trained")\n' })
})
const started: Array<{ close(): Promise<void> }> = []
after(async () => {
  await Promise.all(started.map(s => s.close()))
  ws.cleanup()
})

async function service(options: EmulatorOptions = {}): Promise<Emulator> {
  const emulator = await startEmulator({ port: 0, runPhaseDelayMs: 50, azureHostNames: true, ...options })
  started.push(emulator)
  return emulator
}

/** The inputs of a step that uses the cloud's own endpoints: no authority-host / resource-manager-endpoint. */
function cloudInputs(emulator: Emulator, extra: Record<string, string> = {}): Record<string, string> {
  return { 'azure-credentials': emulator.credentialsJson({ endpoints: false }), ...extra }
}

const TRAIN = { 'experiment-name': 'clouds', script: 'train.py', 'compute-target': 'cpu-cluster' }
const tunnels = (emulator: Emulator): string[] => [...new Set(emulator.azureHostNames!.proxied.map(p => `${p.method} ${p.target} ${p.status}`))].sort()

describe('clouds and proxies (bundled action, Azure host names)', { concurrency: true }, () => {
  it('AzureCloud with no endpoint inputs, through HTTPS_PROXY given without a scheme: every call goes through the proxy to Azure\'s hosts', async () => {
    const emulator = await service()
    const { proxyUrl, caFile } = emulator.azureHostNames!
    const run = await runAgainst(emulator, { ...TRAIN, ...cloudInputs(emulator) }, { workspace: ws.root, env: { HTTPS_PROXY: proxyUrl.replace(/^http:\/\//, ''), NODE_EXTRA_CA_CERTS: caFile } })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.equal(run.outputs['run-status'], 'Completed')
    assert.deepEqual(JSON.parse(run.outputs.metrics), { accuracy: 0.91 })
    assert.match(run.outputs['run-url'], /^https:\/\/ml\.azure\.com\/runs\/clouds_\d+_[0-9a-f]+\?wsid=\/subscriptions\/.+&tid=/)
    assert.deepEqual(tunnels(emulator), [
      'CONNECT eastus.api.azureml.ms:443 200',
      'CONNECT localwsstorage.blob.core.windows.net:443 200',
      'CONNECT login.microsoftonline.com:443 200',
      'CONNECT management.azure.com:443 200'
    ])
    // (The training script's own calls — metrics, outputs — come from the run, on the service's side.)
    const hosts = new Set(run.requests.filter(r => r.authenticatedAs !== 'run-token').map(r => r.host))
    assert.deepEqual([...hosts].sort(), ['eastus.api.azureml.ms', 'localwsstorage.blob.core.windows.net', 'login.microsoftonline.com', 'management.azure.com'], 'nothing bypassed the proxy')
    assert.ok(run.requests.filter(r => r.host === 'login.microsoftonline.com').every(r => r.path.endsWith('/oauth2/v2.0/token')))
  })

  it('AzureUSGovernment signs in with OIDC (its own audience) and reaches only US Government hosts', async () => {
    const emulator = await service({ cloud: 'AzureUSGovernment' })
    const job = emulator.oidc.job({ repository: 'octo-org/ml-repo' })
    const inputs = { ...TRAIN, 'azure-credentials': '', cloud: 'AzureUSGovernment', 'tenant-id': emulator.identity.tenantId, 'client-id': emulator.identity.clientId, 'subscription-id': emulator.identity.subscriptionId }
    const run = await runAgainst(emulator, inputs, { workspace: ws.root, env: { ...emulator.azureHostNames!.env, ...job.env }, secrets: [job.requestToken] })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.equal(run.outputs['run-status'], 'Completed')
    assert.match(run.outputs['run-url'], /^https:\/\/ml\.azure\.us\/runs\//)
    assert.deepEqual(tunnels(emulator), [
      'CONNECT localwsstorage.blob.core.usgovcloudapi.net:443 200',
      'CONNECT login.microsoftonline.us:443 200',
      'CONNECT management.usgovcloudapi.net:443 200',
      'CONNECT pipelines.actions.githubusercontent.com:443 200',
      'CONNECT usgovvirginia.api.ml.azure.us:443 200'
    ])
    const idToken = run.requests.find(r => r.path.endsWith('/idtoken'))!
    assert.equal(new URLSearchParams(idToken.query).get('audience'), 'api://AzureADTokenExchangeUSGov')
    assert.ok(run.requests.filter(r => r.path.endsWith('/token')).every(r => r.clientCredential === 'client_assertion'))
  })

  it('AzureChinaCloud with a client secret reaches only China hosts and links to its studio', async () => {
    const emulator = await service({ cloud: 'AzureChinaCloud' })
    const run = await runAgainst(emulator, { ...TRAIN, ...cloudInputs(emulator, { cloud: 'AzureChinaCloud' }) }, { workspace: ws.root, env: emulator.azureHostNames!.env })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.match(run.outputs['run-url'], /^https:\/\/studio\.ml\.azure\.cn\/runs\//)
    assert.deepEqual(
      tunnels(emulator).map(t => t.split(' ')[1]),
      ['chinaeast2.api.ml.azure.cn:443', 'localwsstorage.blob.core.chinacloudapi.cn:443', 'login.chinacloudapi.cn:443', 'management.chinacloudapi.cn:443']
    )
  })

  it('the cloud tables work through the endpoint overrides too (authority-host, resource-manager-endpoint): China audience, OIDC audience', async () => {
    const emulator = await startEmulator({ port: 0, runPhaseDelayMs: 50, cloud: 'AzureChinaCloud' })
    started.push(emulator)
    const job = emulator.oidc.job({ repository: 'octo-org/ml-repo' })
    const inputs = {
      'azure-credentials': '',
      cloud: 'AzureChinaCloud',
      'authority-host': emulator.url,
      'resource-manager-endpoint': emulator.url,
      'tenant-id': emulator.identity.tenantId,
      'client-id': emulator.identity.clientId,
      'subscription-id': emulator.identity.subscriptionId,
      operation: 'list',
      resource: 'computes'
    }
    const run = await runAgainst(emulator, inputs, { env: job.env, secrets: [job.requestToken] })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.equal(new URLSearchParams(run.requests.find(r => r.path.endsWith('/idtoken'))!.query).get('audience'), 'api://AzureADTokenExchangeChina')
    assert.ok(run.requests.some(r => r.path.endsWith('/computes') && r.status === 200), 'ARM accepted the China-audience token')
  })

  it('the wrong cloud for the tenant fails at sign-in with a hint to set `cloud`; nothing else is sent', async () => {
    const emulator = await service({ cloud: 'AzureUSGovernment' })
    // The US Government tenant reached through overrides, but asked for a public-cloud token.
    const run = await runAgainst(emulator, { operation: 'list', resource: 'experiments', 'authority-host': emulator.url, 'resource-manager-endpoint': emulator.url })
    assert.equal(run.code, 1)
    assert.match(errorText(run), /AADSTS500011.*https:\/\/management\.azure\.com/)
    assert.match(errorText(run), /Hint: .*`cloud`/)
    assert.deepEqual(run.requests.map(r => r.path.split('/').pop()), ['token'])
  })

  it('a proxy that needs credentials gets them from the proxy URL, and the password is masked', async () => {
    const password = 'pr0xy p@ss/word'
    const emulator = await service({ azureHostNames: { proxyCredentials: { username: 'ci-runner', password } } })
    const run = await runAgainst(emulator, { operation: 'list', resource: 'computes', ...cloudInputs(emulator) }, { env: emulator.azureHostNames!.env, secrets: [password] })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.ok(emulator.azureHostNames!.proxied.length >= 2 && emulator.azureHostNames!.proxied.every(p => p.status === 200), `every tunnel was authorized: ${JSON.stringify(emulator.azureHostNames!.proxied)}`)
    // (A workflow command escapes % as %25.)
    assert.ok(run.stdout.includes(`::add-mask::${encodeURIComponent(password).replace(/%/g, '%25')}`) && run.stdout.includes(`::add-mask::${password}`), 'the password is masked as written and decoded')
  })

  it('NO_PROXY is honoured: a host it lists is called directly, the others still go through the proxy', async () => {
    const emulator = await service()
    const { proxied, port } = emulator.azureHostNames!
    const key = emulator.services.byName('demo-scorer')!.keys.primaryKey
    // 0.0.0.0 reaches this machine without being a loopback name, so only NO_PROXY keeps it from the proxy.
    const score = { operation: 'score', 'scoring-uri': `https://0.0.0.0:${port}/services/demo-scorer/score`, 'scoring-key': key, 'scoring-data': '{"data": [[2, 2]]}' }
    const proxiedRun = await runAgainst(emulator, score, { env: emulator.azureHostNames!.env, secrets: [key] })
    assert.equal(proxiedRun.code, 0, proxiedRun.stdout + proxiedRun.stderr)
    assert.deepEqual(proxied.map(p => p.target), [`0.0.0.0:${port}`])

    const direct = await runAgainst(emulator, score, { env: { ...emulator.azureHostNames!.env, NO_PROXY: 'example.com,0.0.0.0' }, secrets: [key] })
    assert.equal(direct.code, 0, direct.stdout + direct.stderr)
    assert.deepEqual(JSON.parse(direct.outputs.result).predictions, [1])
    assert.equal(proxied.length, 1, 'the second call did not go through the proxy')
  })

  it('Azure Storage calls (classic-batch upload and download through the Storage SDK) go through the proxy too', async () => {
    const emulator = await service()
    const hostNames = emulator.azureHostNames!
    // Azurite over https with the local service's certificate, addressed as 0.0.0.0 (not a loopback name).
    const azurite = await startAzurite({ tls: hostNames.certificate })
    started.push(azurite)
    const data = tempWorkspace({ 'reviews.csv': 'Col2\n"This is a good day"\n' })
    try {
      const connectionString = azurite.connectionString.replace('127.0.0.1', '0.0.0.0')
      const run = await runAgainst(
        emulator,
        {
          operation: 'classic-batch',
          'classic-service-url': `${emulator.url}/workspaces/${CLASSIC_DEMO.workspaceId}/services/${CLASSIC_DEMO.serviceId}`,
          'classic-api-key': CLASSIC_DEMO.apiKey,
          'classic-input-file': 'reviews.csv',
          'storage-connection-string': connectionString,
          'storage-container': 'proxied',
          'classic-output-directory': 'out'
        },
        { workspace: data.root, env: hostNames.env, secrets: [CLASSIC_DEMO.apiKey, azurite.accountKey] }
      )
      assert.equal(run.code, 0, run.stdout.split('\n').filter(l => !l.startsWith('::debug::')).join('\n') + run.stderr)
      assert.equal(readFileSync(path.join(data.root, 'out', 'output1.csv'), 'utf8').trim().split(/\r?\n/).length, 2, 'the output was downloaded')
      const storage = hostNames.proxied.filter(p => p.target === `0.0.0.0:${new URL(azurite.blobEndpoint).port}`)
      // Upload (the SDK) and download (the SAS URL of the result) each opened a tunnel.
      assert.ok(storage.length >= 2 && storage.every(p => p.method === 'CONNECT' && p.status === 200), JSON.stringify(hostNames.proxied))
      assert.ok(!hostNames.proxied.some(p => p.target.startsWith('127.0.0.1')), 'the classic service on loopback was called directly')
    } finally {
      data.cleanup()
    }
  })
})
