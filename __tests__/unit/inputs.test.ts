import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { InputError } from '../../src/errors.js'
import { parseSettings, type TrainSettings } from '../../src/inputs.js'

const root = mkdtempSync(path.join(tmpdir(), 'inputs-test-'))
mkdirSync(path.join(root, 'train'))
writeFileSync(path.join(root, 'train', 'train.py'), 'print(1)\n')
writeFileSync(path.join(root, 'train', 'definition.json'), JSON.stringify({ Configuration: { Script: 'train.py', Target: 'cpu-cluster' } }))
mkdirSync(path.join(root, 'proj', '.azureml'), { recursive: true })
writeFileSync(path.join(root, 'proj', '.azureml', 'run.json'), JSON.stringify({ configuration: { script: 'x.py' } }))
writeFileSync(path.join(root, 'broken.json'), '{"Configuration": ')
after(() => rmSync(root, { recursive: true, force: true }))

const SECRET = 'Sup3r~Secret.Value'
const base: Record<string, string> = {
  'tenant-id': '11111111-1111-4111-8111-111111111111',
  'client-id': '22222222-2222-4222-8222-222222222222',
  'client-secret': SECRET,
  'subscription-id': '33333333-3333-4333-8333-333333333333',
  'resource-group': 'rg',
  'workspace-name': 'ws1',
  'experiment-name': 'exp',
  'source-directory': 'train',
  script: 'train.py',
  'compute-target': 'cpu-cluster'
}

function parse(inputs: Record<string, string | undefined>, masked: string[] = []) {
  const merged = { ...base, ...inputs }
  return parseSettings(name => merged[name] ?? '', { workspaceRoot: root, mask: s => masked.push(s) }) as TrainSettings
}

describe('inputs', () => {
  it('builds train settings with defaults', () => {
    const s = parse({ arguments: '--epochs\n 5 \n\n--lr=0.1', 'run-tags': 'team=ml\nnote = a=b' })
    assert.equal(s.operation, 'train')
    assert.equal(s.azure.cloud.resourceManager, 'https://management.azure.com')
    assert.equal(s.azure.cloud.authorityHost, 'https://login.microsoftonline.com')
    assert.deepEqual(s.azure.workspace, { subscriptionId: base['subscription-id'], resourceGroup: 'rg', workspaceName: 'ws1' })
    assert.deepEqual(s.overrides.arguments, ['--epochs', '5', '--lr=0.1'])
    assert.deepEqual(s.runTags, { team: 'ml', note: 'a=b' })
    assert.deepEqual(s.waiting, { wait: true, timeoutMinutes: undefined, cancelOnTimeout: true })
    assert.equal(s.sourceDirectory, path.join(root, 'train'))
  })

  it('reads azure-credentials, with separate inputs overriding its fields, and masks the secret', () => {
    const masked: string[] = []
    const creds = JSON.stringify({
      clientId: '44444444-4444-4444-8444-444444444444',
      clientSecret: 'json-secret',
      tenantId: 'contoso.onmicrosoft.com',
      subscriptionId: '55555555-5555-4555-8555-555555555555',
      resourceManagerEndpointUrl: 'https://management.azure.com/',
      activeDirectoryEndpointUrl: 'http://127.0.0.1:8765'
    })
    const s = parse({ 'azure-credentials': creds, 'tenant-id': '', 'client-id': '', 'client-secret': '', 'subscription-id': '' }, masked)
    assert.equal(s.azure.principal.kind, 'secret')
    assert.equal(s.azure.principal.tenantId, 'contoso.onmicrosoft.com')
    assert.equal(s.azure.workspace.subscriptionId, '55555555-5555-4555-8555-555555555555')
    assert.equal(s.azure.cloud.authorityHost, 'http://127.0.0.1:8765')
    assert.ok(masked.includes('json-secret') && masked.includes(creds))
    const overridden = parse({ 'azure-credentials': creds, 'client-id': '66666666-6666-4666-8666-666666666666', 'client-secret': '' })
    assert.equal(overridden.azure.principal.clientId, '66666666-6666-4666-8666-666666666666')
  })

  it('defaults source-directory to the folder of run-definition-file (the project above .azureml/)', () => {
    assert.equal(parse({ 'source-directory': '', 'run-definition-file': 'train/definition.json' }).sourceDirectory, path.join(root, 'train'))
    assert.equal(parse({ 'source-directory': '', 'run-definition-file': 'proj/.azureml/run.json' }).sourceDirectory, path.join(root, 'proj'))
  })

  const invalid: [string, Record<string, string>, string, RegExp][] = [
    ['unknown operation', { operation: 'deploy' }, 'operation', /'deploy' is not allowed; use one of: train, wait-run/],
    ['unknown cloud', { cloud: 'Mars' }, 'cloud', /use one of: AzureCloud, AzureUSGovernment, AzureChinaCloud/],
    ['malformed client id', { 'client-id': 'abc' }, 'client-id', /not a GUID/],
    ['malformed subscription', { 'subscription-id': '1234' }, 'subscription-id', /not a GUID/],
    ['malformed tenant', { 'tenant-id': 'not a tenant!' }, 'tenant-id', /neither a GUID nor a domain/],
    ['missing tenant', { 'tenant-id': '' }, 'tenant-id', /required/],
    ['missing workspace', { 'workspace-name': '' }, 'workspace-name', /required/],
    ['bad workspace name', { 'workspace-name': 'a' }, 'workspace-name', /3-33/],
    ['bad resource group', { 'resource-group': 'rg.' }, 'resource-group', /not ending in/],
    ['missing experiment', { 'experiment-name': '' }, 'experiment-name', /required/],
    ['bad experiment', { 'experiment-name': 'my experiment' }, 'experiment-name', /is not valid: an experiment name is 1-255 letters/],
    ['non-boolean wait', { wait: 'yes' }, 'wait', /use true or false/],
    ['non-boolean cancel-on-timeout', { 'cancel-on-timeout': '1' }, 'cancel-on-timeout', /use true or false/],
    ['negative timeout', { 'timeout-minutes': '-5' }, 'timeout-minutes', /positive number of minutes/],
    ['zero timeout', { 'timeout-minutes': '0' }, 'timeout-minutes', /positive number/],
    ['text timeout', { 'timeout-minutes': '10m' }, 'timeout-minutes', /positive number/],
    ['missing definition file', { 'run-definition-file': 'nope.json' }, 'run-definition-file', /'nope.json' does not exist/],
    ['definition file is a folder', { 'run-definition-file': 'train' }, 'run-definition-file', /is a directory/],
    ['non-JSON definition file', { 'run-definition-file': 'broken.json' }, 'run-definition-file', /is not valid JSON/],
    ['missing source directory', { 'source-directory': 'nope' }, 'source-directory', /does not exist/],
    ['source directory is a file', { 'source-directory': 'train/train.py' }, 'source-directory', /not a directory/],
    ['source directory outside the workspace', { 'source-directory': '..' }, 'source-directory', /outside the workspace/],
    ['http to a non-loopback host', { 'authority-host': 'http://login.example.com' }, 'authority-host', /must use https/],
    ['not a URL', { 'resource-manager-endpoint': 'management' }, 'resource-manager-endpoint', /is not a URL/],
    ['malformed azure-credentials', { 'azure-credentials': `{"clientSecret": "${SECRET}"` }, 'azure-credentials', /is not valid JSON/],
    ['azure-credentials not an object', { 'azure-credentials': '[1]' }, 'azure-credentials', /must be a JSON object/],
    ['bad run-tags', { 'run-tags': 'novalue' }, 'run-tags', /not key=value/],
    ['bad compute target', { 'compute-target': 'cpu cluster' }, 'compute-target', /is not valid: 2-32 letters, digits or -/]
  ]
  for (const [name, inputs, input, message] of invalid) {
    it(`rejects ${name}, naming ${input}`, () => {
      assert.throws(
        () => parse(inputs),
        (e: unknown) => {
          assert.ok(e instanceof InputError, String(e))
          assert.equal(e.input, input)
          assert.match(e.message, message)
          assert.ok(!e.message.includes(SECRET), 'the secret never appears in an error')
          return true
        }
      )
    })
  }
})
