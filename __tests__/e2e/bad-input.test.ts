/**
 * Bad input through the bundled action: each case gives exactly one `::error::` that names the input and
 * says what is allowed, exit code 1, and nothing is sent — neither to the local Azure ML service (its
 * request log stays empty) nor anywhere else (a trap proxy stands in for the internet).
 * The services and proxies are this file's own, in a few lanes; a lane runs one case at a time, so every
 * request in its log belongs to that case.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { runAgainst, tempWorkspace, trapProxy } from '../helpers/e2e.js'

interface Lane {
  emulator: Emulator
  trap: Awaited<ReturnType<typeof trapProxy>>
}
const LANES = 4
const lanes: Lane[] = []
const free: Lane[] = []
const waiting: Array<(lane: Lane) => void> = []
async function withLane<T>(work: (lane: Lane) => Promise<T>): Promise<T> {
  const lane = free.pop() ?? (await new Promise<Lane>(resolve => waiting.push(resolve)))
  try {
    return await work(lane)
  } finally {
    const next = waiting.shift()
    if (next) next(lane)
    else free.push(lane)
  }
}

let ws: { root: string; cleanup(): void }
before(async () => {
  for (let i = 0; i < LANES; i++) lanes.push({ emulator: await startEmulator({ port: 0, runPhaseDelayMs: 50 }), trap: await trapProxy() })
  free.push(...lanes)
  ws = tempWorkspace({
    'code/train.py': 'print("never runs")\n',
    'code/definition.json': JSON.stringify({ Configuration: { Script: 'train.py', Target: 'cpu-cluster' } }),
    'code/not-json.json': '{ "Configuration": { "Script": "train.py", }',
    'code/no-config.json': JSON.stringify({ Script: 'train.py' }),
    'code/escape.py': 'print(1)\n'
  })
})
after(async () => {
  ws.cleanup()
  await Promise.all(lanes.flatMap(lane => [lane.trap.close(), lane.emulator.close()]))
})

interface Case {
  name: string
  /** Inputs over a valid `train` (an empty string removes one). */
  inputs: Record<string, string> | ((emulator: Emulator) => Record<string, string>)
  /** The input the error must name. */
  input: string
  /** What the message must say about what is allowed. */
  allowed: RegExp
  /** Values in the inputs that must not be printed (beyond the emulator's own secrets). */
  secrets?: string[]
}

const creds = (change: Record<string, unknown>, drop: string[] = []) => (emulator: Emulator): Record<string, string> => {
  const json = JSON.parse(emulator.credentialsJson()) as Record<string, unknown>
  for (const key of drop) delete json[key]
  return { 'azure-credentials': JSON.stringify({ ...json, ...change }) }
}
const NOT_LOOPBACK_HTTP = /must use https:\/\/ \(plain http:\/\/ is allowed only for loopback hosts/
const MINUTES = /is not a positive number of minutes \(up to 43200\)/
const BOOLEAN = /is not a boolean; use true or false/
const GATE_GRAMMAR = /is not a condition; write one per line as <metric> <op> <number> or <metric> <op> champion, with op one of >, >=, <, <=, ==/
const gated = (gate: string) => ({ 'model-name': 'churn', 'model-path': 'outputs/model.json', 'register-if': gate })
const RUN = 'bad-input_1700000000000_0a1b2c3d'
const armId = (type: string, name: string) => `/subscriptions/33333333-3333-4333-8333-333333333333/resourceGroups/local-rg/providers/${type}/${name}`
const newWorkspace = { operation: 'create-workspace', 'workspace-name': 'new-ws', location: 'eastus', 'storage-account': armId('Microsoft.Storage/storageAccounts', 'mlstore'), 'key-vault': armId('Microsoft.KeyVault/vaults', 'ml-kv'), 'application-insights': armId('Microsoft.Insights/components', 'ml-ai') }
const ACCOUNT_KEY = 'c3RvcmFnZS1rZXktdGhhdC1tdXN0LW5vdC1sZWFr'
const classicBatch = { operation: 'classic-batch', 'classic-service-url': 'https://ussouthcentral.services.azureml.net/workspaces/0a1b/services/2c3d', 'classic-api-key': 'classic-key-value', 'storage-container': 'batch-in', 'classic-input-file': 'code/train.py' }

const cases: Case[] = [
  { name: 'unknown operation', inputs: { operation: 'deploy' }, input: 'operation', allowed: /'deploy' is not allowed; use one of: train, / },
  { name: 'unknown cloud', inputs: { cloud: 'AzureMars' }, input: 'cloud', allowed: /use one of: AzureCloud, AzureUSGovernment, AzureChinaCloud/ },
  { name: 'tenant id neither GUID nor domain', inputs: { 'tenant-id': 'my tenant' }, input: 'tenant-id', allowed: /neither a GUID nor a domain name/ },
  { name: 'client id not a GUID', inputs: { 'client-id': '1234' }, input: 'client-id', allowed: /not a GUID \(the Application \(client\) ID/ },
  { name: 'subscription id not a GUID', inputs: { 'subscription-id': 'my-subscription' }, input: 'subscription-id', allowed: /is not a GUID/ },
  { name: 'malformed tenant id in azure-credentials', inputs: creds({ tenantId: 'not/a/tenant' }), input: 'azure-credentials', allowed: /neither a GUID nor a domain name/ },
  { name: 'malformed client id in azure-credentials', inputs: creds({ clientId: 'abc' }), input: 'azure-credentials', allowed: /not a GUID/ },
  {
    name: 'azure-credentials cut off mid-way (the secret must not be quoted)',
    inputs: emulator => {
      const json = emulator.credentialsJson()
      return { 'azure-credentials': json.slice(0, json.indexOf(emulator.identity.clientSecret) + emulator.identity.clientSecret.length + 3) }
    },
    input: 'azure-credentials',
    allowed: /is not valid JSON .*expected the output of `az ad sp create-for-rbac --json-auth`/
  },
  { name: 'azure-credentials with a number for clientId', inputs: creds({ clientId: 42 }), input: 'azure-credentials', allowed: /"clientId" must be a string/ },
  { name: 'no client secret anywhere', inputs: creds({}, ['clientSecret']), input: 'client-secret', allowed: /`client-secret`.*`?clientSecret`? in `azure-credentials`|`client-secret` or `azure-credentials` with clientSecret/ },
  { name: 'no tenant anywhere', inputs: creds({}, ['tenantId']), input: 'tenant-id', allowed: /required: give `tenant-id` or `azure-credentials`/ },
  { name: 'no subscription anywhere', inputs: creds({}, ['subscriptionId']), input: 'subscription-id', allowed: /required: the subscription of the workspace/ },
  { name: 'wait: yes', inputs: { wait: 'yes' }, input: 'wait', allowed: BOOLEAN },
  { name: 'cancel-on-timeout: never', inputs: { 'cancel-on-timeout': 'never' }, input: 'cancel-on-timeout', allowed: BOOLEAN },
  { name: 'negative timeout-minutes', inputs: { 'timeout-minutes': '-5' }, input: 'timeout-minutes', allowed: MINUTES },
  { name: 'timeout-minutes with a unit', inputs: { 'timeout-minutes': '90m' }, input: 'timeout-minutes', allowed: MINUTES },
  { name: 'missing experiment-name', inputs: { 'experiment-name': '' }, input: 'experiment-name', allowed: /required for train/ },
  { name: 'experiment-name with spaces', inputs: { 'experiment-name': 'my experiment' }, input: 'experiment-name', allowed: /1-255 letters, digits, '?-'? or '?_'?, starting with a letter or digit/ },
  { name: 'missing resource-group', inputs: { 'resource-group': '' }, input: 'resource-group', allowed: /required/ },
  { name: 'resource-group ending in a dot', inputs: { 'resource-group': 'ml-rg.' }, input: 'resource-group', allowed: /1-90 letters, digits, .*not ending in '?\.'?/ },
  { name: 'workspace-name too short', inputs: { 'workspace-name': 'ws' }, input: 'workspace-name', allowed: /3-33 letters, digits, '?-'? or '?_'?/ },
  { name: 'missing run-definition-file', inputs: { 'run-definition-file': 'code/missing.json', script: '' }, input: 'run-definition-file', allowed: /'code\/missing\.json' does not exist \(looked at / },
  { name: 'run-definition-file that is not JSON', inputs: { 'run-definition-file': 'code/not-json.json' }, input: 'run-definition-file', allowed: /'code\/not-json\.json' is not valid JSON: / },
  { name: 'run-definition-file without Configuration', inputs: { 'run-definition-file': 'code/no-config.json' }, input: 'run-definition-file', allowed: /has no "Configuration" \(or "configuration"\) object/ },
  { name: 'missing source-directory', inputs: { 'source-directory': 'nope' }, input: 'source-directory', allowed: /'nope' does not exist/ },
  { name: 'source-directory outside the workspace', inputs: { 'source-directory': '..' }, input: 'source-directory', allowed: /is outside the workspace .*only folders of the checked-out repository can be uploaded/ },
  { name: 'script not in the snapshot', inputs: { script: 'missing.py' }, input: 'script', allowed: /'missing\.py' is not in the snapshot of source-directory/ },
  { name: 'script outside source-directory', inputs: { script: '../code/escape.py' }, input: 'script', allowed: /must be a path relative to source-directory .*without '\.\.'/ },
  { name: 'no script at all', inputs: { script: '' }, input: 'script', allowed: /no entry script: set `script`/ },
  { name: 'compute-target with bad characters', inputs: { 'compute-target': 'gpu cluster!' }, input: 'compute-target', allowed: /2-32 letters, digits or '?-'?, starting with a letter/ },
  { name: 'no compute target', inputs: { 'compute-target': '' }, input: 'compute-target', allowed: /no compute target: set `compute-target`/ },
  { name: 'http:// authority-host that is not loopback', inputs: { 'authority-host': 'http://login.example.com' }, input: 'authority-host', allowed: NOT_LOOPBACK_HTTP },
  { name: 'http:// resource-manager-endpoint that is not loopback', inputs: { 'resource-manager-endpoint': 'http://management.example.com' }, input: 'resource-manager-endpoint', allowed: NOT_LOOPBACK_HTTP },
  { name: 'http:// endpoint in azure-credentials that is not loopback', inputs: creds({ activeDirectoryEndpointUrl: 'http://login.example.com' }), input: 'azure-credentials', allowed: NOT_LOOPBACK_HTTP },
  { name: 'authority-host with a query string', inputs: { 'authority-host': 'https://login.microsoftonline.com/?tenant=x' }, input: 'authority-host', allowed: /must be a bare (endpoint )?URL without query/ },
  { name: 'run-tags line without =', inputs: { 'run-tags': 'team=vision\nnightly' }, input: 'run-tags', allowed: /'nightly' is not key=value \(one pair per line\)/ },
  { name: 'register-if with a doubled operator', inputs: gated('accuracy >= 0.8\naccuracy >> 0.9'), input: 'register-if', allowed: GATE_GRAMMAR },
  { name: 'register-if against a misspelt champion', inputs: gated('accuracy > champion2'), input: 'register-if', allowed: GATE_GRAMMAR },
  { name: 'register-if without model-name', inputs: { 'register-if': 'accuracy > 0.9' }, input: 'register-if', allowed: /needs `model-name` \(the model to register when the conditions hold\)/ },
  { name: 'register-if without model-name, resuming with wait-run', inputs: { operation: 'wait-run', 'run-id': RUN, 'register-if': 'loss < champion' }, input: 'register-if', allowed: /needs `model-name`/ },
  { name: 'model-id without a version (delete-model)', inputs: { operation: 'delete-model', 'model-id': 'churn' }, input: 'model-id', allowed: /'churn' is not valid: use name:version, e.g. my-model:3/ },
  { name: 'model-id with version 0 (delete-model)', inputs: { operation: 'delete-model', 'model-id': 'churn:0' }, input: 'model-id', allowed: /use name:version/ },
  { name: 'model-path leaving the run outputs with ..', inputs: { operation: 'register-model', 'run-id': RUN, 'model-name': 'churn', 'model-path': 'outputs/../../secrets.txt' }, input: 'model-path', allowed: /must be a path inside the run's artifacts, e.g\. outputs\/model\.pkl \(no leading \/ and no \.\.\)/ },
  { name: 'model-path that is absolute', inputs: { operation: 'register-model', 'run-id': RUN, 'model-name': 'churn', 'model-path': '/outputs/model.pkl' }, input: 'model-path', allowed: /no leading \// },
  { name: 'max-nodes below min-nodes', inputs: { operation: 'create-compute', 'compute-name': 'gpu-pool', 'min-nodes': '4', 'max-nodes': '2' }, input: 'max-nodes', allowed: /2 is less than min-nodes \(4\)/ },
  { name: 'unknown vm-priority', inputs: { operation: 'create-compute', 'compute-name': 'gpu-pool', 'vm-priority': 'Spot' }, input: 'vm-priority', allowed: /'Spot' is not allowed; use one of: Dedicated, LowPriority/ },
  { name: 'create-workspace without location', inputs: { ...newWorkspace, location: '' }, input: 'location', allowed: /required for create-workspace: the region of the new workspace, e\.g\. eastus/ },
  {
    name: 'key-vault given the id of a storage account',
    inputs: { ...newWorkspace, 'key-vault': armId('Microsoft.Storage/storageAccounts', 'mlstore') },
    input: 'key-vault',
    allowed: /expected \/subscriptions\/<id>\/resourceGroups\/<group>\/providers\/Microsoft\.KeyVault\/vaults\/<name>/
  },
  {
    name: 'storage-connection-string with a plain http blob endpoint that is not loopback',
    inputs: { ...classicBatch, 'storage-connection-string': `DefaultEndpointsProtocol=https;AccountName=mlstore;AccountKey=${ACCOUNT_KEY};BlobEndpoint=http://mlstore.blob.example.com/` },
    input: 'storage-connection-string',
    allowed: NOT_LOOPBACK_HTTP,
    secrets: [ACCOUNT_KEY]
  },
  {
    name: 'storage-connection-string with DefaultEndpointsProtocol=http',
    inputs: { ...classicBatch, 'storage-connection-string': `DefaultEndpointsProtocol=http;AccountName=mlstore;AccountKey=${ACCOUNT_KEY};EndpointSuffix=core.windows.net` },
    input: 'storage-connection-string',
    allowed: NOT_LOOPBACK_HTTP,
    secrets: [ACCOUNT_KEY]
  },
  { name: 'http:// scoring-uri that is not loopback', inputs: { operation: 'score', 'scoring-uri': 'http://churn.eastus.azurecontainer.io/score', 'scoring-key': 'k', 'scoring-data': '{"data": [[1, 2]]}' }, input: 'scoring-uri', allowed: NOT_LOOPBACK_HTTP },
  { name: 'list of an unknown resource', inputs: { operation: 'list', resource: 'datasets' }, input: 'resource', allowed: /'datasets' is not allowed; use one of: resource-groups, workspaces, experiments, runs, models, computes/ }
]

describe('bad input (bundled action): one clear error, nothing sent', { concurrency: LANES }, () => {
  it(`covers at least 30 cases (${cases.length})`, () => {
    assert.ok(cases.length >= 30)
  })

  for (const c of cases) {
    it(c.name, () =>
      withLane(async ({ emulator, trap }) => {
        const overrides = typeof c.inputs === 'function' ? c.inputs(emulator) : c.inputs
        const inputs = { 'experiment-name': 'bad-input', 'source-directory': 'code', script: 'train.py', 'compute-target': 'cpu-cluster', ...overrides }
        const proxy = trap.url
        const asked = trap.asked.length
        const run = await runAgainst(emulator, inputs, { workspace: ws.root, secrets: c.secrets, env: { HTTPS_PROXY: proxy, HTTP_PROXY: proxy, https_proxy: proxy, http_proxy: proxy } })
        assert.equal(run.code, 1, run.stdout)
        assert.equal(run.errors.length, 1, `exactly one ::error::\n${run.stdout}`)
        const [error] = run.errors
        assert.ok(error.startsWith(`Input '${c.input}': `), `names the input '${c.input}': ${error}`)
        assert.match(error, c.allowed)
        assert.deepEqual(run.requests, [], 'nothing reached the local Azure ML service')
        assert.deepEqual(trap.asked.slice(asked), [], 'nothing went anywhere else')
        assert.equal(run.outputs['run-id'], undefined)
        assert.doesNotMatch(run.stdout + run.stderr, /^\s+at .+:\d+:\d+\)?$/m, 'no stack trace')
      })
    )
  }
})
