import path from 'node:path'
import { normalizeRunDefinition, type RunDefinition } from './azureml/run-definition.js'
import { CLOUD_NAMES, resolveCloud, type CloudName } from './clouds.js'
import { InputError } from './errors.js'
import {
  boolean,
  existingDirectory,
  existingFile,
  GUID,
  integer,
  jsonBody,
  keyValueLines,
  lines,
  matching,
  minutes,
  oneOf,
  outputDirectory,
  readTextFile,
  required,
  serviceUrl,
  type InputReader
} from './input-values.js'
import { parseConditions } from './operations/model-gate.js'
import {
  LIST_RESOURCES,
  OPERATIONS,
  type AzureSettings,
  type ClassicService,
  type ModelSpec,
  type RegistrationSettings,
  type ServicePrincipal,
  type Settings,
  type SubscriptionSettings,
  type WaitSettings
} from './settings.js'

/**
 * The only reader of inputs. Turns the raw strings of action.yml into the typed, validated settings of the
 * chosen operation; every problem is an InputError that names the input and says what is allowed, raised
 * before anything is sent.
 */

export type { InputReader } from './input-values.js'
export { OPERATIONS } from './settings.js'
export type * from './settings.js'

/** Inputs whose values are credentials: masked before anything else happens. */
export const SECRET_INPUTS = ['azure-credentials', 'client-secret', 'scoring-key', 'classic-api-key', 'apim-subscription-key', 'storage-connection-string', 'github-token'] as const

export interface ParseEnvironment {
  /** Root the source directory must stay inside (GITHUB_WORKSPACE). */
  workspaceRoot: string
  /** Called with each secret as soon as it is read, before any validation can fail. */
  mask: (secret: string) => void
  /** The process environment (for the OIDC request variables the runner sets with `id-token: write`). */
  env?: Record<string, string | undefined>
}

/** Reads and validates all inputs of the chosen operation. */
export function parseSettings(read: InputReader, env: ParseEnvironment): Settings {
  maskSecretInputs(read, env)
  const operation = oneOf(read, 'operation', OPERATIONS, 'train')
  const root = env.workspaceRoot
  switch (operation) {
    case 'train':
      return parseTrain(read, env)
    case 'wait-run': {
      const run = runReference(read, operation)
      return { operation, azure: parseAzure(read, env), ...run, waiting: parseWaiting(read), registration: parseRegistration(read) }
    }
    case 'cancel-run':
      return { operation, ...runReference(read, operation), azure: parseAzure(read, env) }
    case 'register-model':
      return { operation, ...runReference(read, operation), azure: parseAzure(read, env), model: modelSpec(read, operation) }
    case 'delete-model': {
      const modelId = matching('model-id', required(read, 'model-id', 'delete-model'), /^[a-zA-Z0-9][\w.-]{0,254}:[1-9]\d{0,9}$/, 'use name:version, e.g. my-model:3')
      return { operation, azure: parseAzure(read, env), modelId }
    }
    case 'list':
      return parseList(read, env)
    case 'create-compute': {
      const azure = parseAzure(read, env)
      const name = matching('compute-name', required(read, 'compute-name', 'create-compute'), /^[a-zA-Z][a-zA-Z0-9-]{1,15}$/, '2-16 letters, digits or -, starting with a letter')
      const minNodes = integer(read, 'min-nodes', 0, 0, 1000)
      const maxNodes = integer(read, 'max-nodes', Math.max(1, minNodes), 1, 1000)
      if (maxNodes < minNodes) throw new InputError('max-nodes', `${maxNodes} is less than min-nodes (${minNodes})`)
      return {
        operation,
        azure,
        compute: {
          name,
          location: location(read),
          vmSize: matching('vm-size', read('vm-size') || 'STANDARD_DS3_V2', /^[A-Za-z][A-Za-z0-9_]{2,63}$/, 'an Azure VM size such as STANDARD_DS3_V2'),
          vmPriority: oneOf(read, 'vm-priority', ['Dedicated', 'LowPriority'] as const, 'Dedicated'),
          minNodes,
          maxNodes,
          idleSecondsBeforeScaleDown: integer(read, 'idle-seconds-before-scale-down', 1800, 0, 31_536_000)
        },
        timeoutMinutes: minutes(read, 'timeout-minutes')
      }
    }
    case 'create-workspace': {
      const azure = parseAzure(read, env)
      const loc = location(read)
      if (!loc) throw new InputError('location', 'required for create-workspace: the region of the new workspace, e.g. eastus')
      return {
        operation,
        azure,
        workspace: {
          location: loc,
          storageAccount: resourceId(read, 'storage-account', 'Microsoft.Storage/storageAccounts', true) as string,
          keyVault: resourceId(read, 'key-vault', 'Microsoft.KeyVault/vaults', true) as string,
          applicationInsights: resourceId(read, 'application-insights', 'Microsoft.Insights/components', true) as string,
          containerRegistry: resourceId(read, 'container-registry', 'Microsoft.ContainerRegistry/registries', false),
          friendlyName: read('friendly-name') || undefined,
          description: read('description') || undefined
        },
        timeoutMinutes: minutes(read, 'timeout-minutes')
      }
    }
    case 'score': {
      const body = jsonBody(read, 'scoring-data', 'scoring-data-file', root, 'the JSON to score, e.g. {"data": [[1, 2]]}')
      const uri = read('scoring-uri')
      const serviceName = read('service-name')
      if (uri && serviceName) throw new InputError('service-name', 'give either `scoring-uri` (with `scoring-key`) or `service-name`, not both')
      if (!uri && !serviceName) throw new InputError('scoring-uri', 'required for score: the deployed model\'s scoring URI (with `scoring-key`), or `service-name` to look it up in the workspace')
      const target = uri
        ? { kind: 'uri' as const, uri: serviceUrl('scoring-uri', uri, 'https://my-service.eastus.azurecontainer.io/score'), key: read('scoring-key') || undefined }
        : { kind: 'service' as const, azure: parseAzure(read, env), serviceName: matching('service-name', serviceName, /^[a-zA-Z0-9][\w-]{0,62}$/, 'a deployed service name (letters, digits, - and _)') }
      return { operation, target, body: body.text }
    }
    case 'classic-score': {
      const service = classicService(read)
      const body = jsonBody(read, 'classic-input', 'classic-input-file', root, 'the Request-Response body ({"Inputs": {...}, "GlobalParameters": {}})')
      maskPayloadSecrets(body.value, env.mask)
      const inputs = (body.value as { Inputs?: unknown } | null)?.Inputs
      if (typeof inputs !== 'object' || inputs === null) {
        throw new InputError(read('classic-input') ? 'classic-input' : 'classic-input-file', 'must be a JSON object with "Inputs" (e.g. {"Inputs": {"input1": {"ColumnNames": ["Text"], "Values": [["hello"]]}}, "GlobalParameters": {}})')
      }
      return { operation, service, body: body.text }
    }
    case 'classic-batch':
      return parseClassicBatch(read, env)
  }
}

/**
 * `comment-on-pr` (default true) and `github-token`: where the results of `train` / `wait-run` are also
 * posted as a pull request comment. Undefined when commenting is off or there is no token.
 */
export function parsePullRequestComment(read: InputReader): { token: string } | undefined {
  if (!boolean(read, 'comment-on-pr', true)) return undefined
  const token = read('github-token')
  return token ? { token } : undefined
}

/** Only the credentials, cloud and workspace: what the post step needs to cancel a run. */
export function parseAzureSettings(read: InputReader, env: ParseEnvironment): AzureSettings {
  maskSecretInputs(read, env)
  return parseAzure(read, env)
}

/** Only the classic web service (URL and keys): what the post step needs to delete a batch job. */
export function parseClassicServiceSettings(read: InputReader, env: ParseEnvironment): ClassicService {
  maskSecretInputs(read, env)
  return classicService(read)
}

function maskSecretInputs(read: InputReader, env: ParseEnvironment): void {
  for (const name of SECRET_INPUTS) {
    const value = read(name)
    if (value) env.mask(value)
  }
  // The account key or SAS inside a storage connection string are secrets of their own.
  maskEmbeddedSecrets(read('storage-connection-string'), env.mask)
  // So are those in a classic payload given inline, masked before parsing can fail and quote it.
  maskEmbeddedSecrets(read('classic-input'), env.mask)
}

// Secret parts of text: a connection string's AccountKey and SharedAccessSignature, a SAS's signature.
const EMBEDDED_SECRETS = [/AccountKey=([^;"'\s]+)/gi, /SharedAccessSignature=([^;"'\s]+)/gi, /(?:^|[?&;"])sig=([^&;"'\s]+)/gi]

/** Masks the account keys, SAS tokens and SAS signatures inside a text (as they are and URL-decoded). */
function maskEmbeddedSecrets(text: string, mask: (secret: string) => void): void {
  for (const pattern of EMBEDDED_SECRETS) {
    for (const [, value] of text.matchAll(pattern)) maskSecret(value, mask)
  }
}

function maskSecret(value: string, mask: (secret: string) => void): void {
  // Masking a few characters would hide them everywhere in the log; no key or signature is that short.
  if (value.length < 8) return
  mask(value)
  let decoded = value
  try {
    decoded = decodeURIComponent(value)
  } catch {
    // not percent-encoded
  }
  if (decoded !== value) mask(decoded)
}

// The credential fields of the BES blob references (`Input(s)`, `Outputs`), by name.
const CREDENTIAL_FIELDS = new Set(['connectionstring', 'sasblobtoken'])

/**
 * Masks the credentials a classic payload carries: the ConnectionString and SasBlobToken of every blob
 * reference, and the keys and SAS inside any of its strings (GlobalParameters may hold connection strings
 * too). The action never prints the payload, but an error or a service's answer may quote a part of it.
 */
function maskPayloadSecrets(value: unknown, mask: (secret: string) => void, key = ''): void {
  if (typeof value === 'string') {
    if (CREDENTIAL_FIELDS.has(key.toLowerCase())) maskSecret(value.replace(/^\?/, ''), mask)
    maskEmbeddedSecrets(value, mask)
  } else if (Array.isArray(value)) {
    for (const item of value) maskPayloadSecrets(item, mask)
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) maskPayloadSecrets(v, mask, k)
  }
}

// ---------------------------------------------------------------- runs

function parseTrain(read: InputReader, env: ParseEnvironment): Settings {
  const azure = parseAzure(read, env)
  const experimentName = experiment(required(read, 'experiment-name', 'train'))
  const definitionPath = read('run-definition-file')
  const definitionFile = definitionPath ? readDefinitionFile(definitionPath, env.workspaceRoot) : undefined
  const sourceInput = read('source-directory') || (definitionFile ? defaultSourceFor(definitionFile.path, env.workspaceRoot) : '.')
  const sourceDirectory = existingDirectory('source-directory', sourceInput, env.workspaceRoot)
  const computeTarget = read('compute-target') || undefined
  if (computeTarget !== undefined) matching('compute-target', computeTarget, /^[a-zA-Z][a-zA-Z0-9-]{1,31}$/, '2-32 letters, digits or -, starting with a letter')
  const argumentsInput = read('arguments')
  return {
    operation: 'train',
    azure,
    experimentName,
    sourceDirectory,
    definitionFile,
    overrides: { script: read('script') || undefined, arguments: argumentsInput ? lines(argumentsInput) : undefined, computeTarget },
    runTags: keyValueLines(read, 'run-tags'),
    waiting: parseWaiting(read),
    registration: parseRegistration(read)
  }
}

function parseWaiting(read: InputReader): WaitSettings {
  return {
    wait: boolean(read, 'wait', true),
    timeoutMinutes: minutes(read, 'timeout-minutes'),
    cancelOnTimeout: boolean(read, 'cancel-on-timeout', true)
  }
}

function experiment(name: string, input = 'experiment-name'): string {
  return matching(input, name, /^[a-zA-Z0-9][\w-]{0,254}$/, 'an experiment name is 1-255 letters, digits, - or _, starting with a letter or digit')
}

/**
 * `run-id` and its experiment. Run history addresses runs by experiment; without `experiment-name` it is
 * read off the run id when that has the `{experiment}_{number}…` form Azure ML and this action give runs.
 */
function runReference(read: InputReader, operation: string): { runId: string; experimentName: string } {
  const runId = matching('run-id', required(read, 'run-id', operation), /^[a-zA-Z0-9][\w-]{0,255}$/, 'a run id is letters, digits, - and _ (up to 256)')
  const given = read('experiment-name')
  if (given) return { runId, experimentName: experiment(given) }
  const inferred = /^(.+?)_\d{10,}(?:_[0-9a-zA-Z]+)?$/.exec(runId)?.[1]
  if (!inferred) throw new InputError('experiment-name', `required for ${operation}: it cannot be read off run id '${runId}'`)
  return { runId, experimentName: experiment(inferred, 'run-id') }
}

/** `model-name` with train / wait-run: what to register and the `register-if` gate. */
function parseRegistration(read: InputReader): RegistrationSettings | undefined {
  const gate = read('register-if')
  if (!read('model-name')) {
    if (gate) throw new InputError('register-if', 'needs `model-name` (the model to register when the conditions hold)')
    return undefined
  }
  return { model: modelSpec(read, 'registering the model'), conditions: gate ? parseConditions(gate) : [] }
}

const FRAMEWORKS = ['ScikitLearn', 'TensorFlow', 'TfKeras', 'PyTorch', 'Onnx', 'Custom', 'Multi'] as const

function modelSpec(read: InputReader, what: string): ModelSpec {
  const name = matching('model-name', required(read, 'model-name', what), /^[a-zA-Z0-9][\w.-]{0,254}$/, 'a model name is 1-255 letters, digits, -, _ or ., starting with a letter or digit')
  const rawPath = required(read, 'model-path', what).replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, '')
  if (!rawPath || rawPath.startsWith('/') || rawPath.split('/').includes('..')) {
    throw new InputError('model-path', `'${read('model-path')}' must be a path inside the run's artifacts, e.g. outputs/model.pkl (no leading / and no ..)`)
  }
  const framework = read('model-framework') ? oneOf(read, 'model-framework', FRAMEWORKS, 'Custom') : undefined
  return { name, path: rawPath, description: read('model-description') || undefined, framework, tags: keyValueLines(read, 'model-tags') }
}

// ---------------------------------------------------------------- list

function parseList(read: InputReader, env: ParseEnvironment): Settings {
  const resource = read('resource')
  if (!resource) throw new InputError('resource', `required for list; use one of: ${LIST_RESOURCES.join(', ')}`)
  const chosen = oneOf(read, 'resource', LIST_RESOURCES, 'experiments')
  switch (chosen) {
    case 'resource-groups':
    case 'workspaces':
      return { operation: 'list', resource: chosen, subscription: parseSubscription(read, env) }
    case 'runs':
      return { operation: 'list', resource: chosen, azure: parseAzure(read, env), experimentName: experiment(required(read, 'experiment-name', 'list runs')) }
    case 'models': {
      const modelName = read('model-name') || undefined
      if (modelName) matching('model-name', modelName, /^[a-zA-Z0-9][\w.-]{0,254}$/, 'a model name is letters, digits, -, _ or .')
      return { operation: 'list', resource: chosen, azure: parseAzure(read, env), modelName }
    }
    default:
      return { operation: 'list', resource: chosen, azure: parseAzure(read, env) }
  }
}

// ---------------------------------------------------------------- resources

/** A region name as ARM wants it (eastus), from either spelling (East US). */
function location(read: InputReader): string | undefined {
  const value = read('location')
  if (!value) return undefined
  const normalized = value.toLowerCase().replace(/\s+/g, '')
  return matching('location', normalized, /^[a-z][a-z0-9]{2,39}$/, 'an Azure region such as eastus or westeurope')
}

/** An ARM resource id of the given type, e.g. /subscriptions/…/resourceGroups/…/providers/Microsoft.Storage/storageAccounts/name. */
function resourceId(read: InputReader, name: string, type: string, needed: boolean): string | undefined {
  const value = read(name)
  if (!value) {
    if (needed) throw new InputError(name, `required for create-workspace: the ARM resource id of the ${type.split('/')[1].replace(/s$/, '')}, /subscriptions/<id>/resourceGroups/<group>/providers/${type}/<name>`)
    return undefined
  }
  const pattern = new RegExp(`^/subscriptions/[0-9a-f-]{36}/resourceGroups/[-\\w.()]{1,90}/providers/${type.replace('.', '\\.')}/[-\\w]{1,260}$`, 'i')
  return matching(name, value, pattern, `expected /subscriptions/<id>/resourceGroups/<group>/providers/${type}/<name>`)
}

// ---------------------------------------------------------------- scoring

/** The classic web service URL (…/workspaces/{ws}/services/{svc}), its key and the APIM key. */
function classicService(read: InputReader): ClassicService {
  const raw = required(read, 'classic-service-url', 'the classic web service')
  const url = new URL(serviceUrl('classic-service-url', raw, 'https://ussouthcentral.services.azureml.net/workspaces/<ws>/services/<svc>'))
  // People paste the endpoint they see in the portal: drop /execute or /jobs and the query.
  const servicePath = url.pathname.replace(/\/+$/, '').replace(/\/(execute|jobs)$/i, '')
  if (!/\/workspaces\/[^/]+\/services\/[^/]+$/i.test(servicePath)) {
    throw new InputError('classic-service-url', `'${raw}' does not end with /workspaces/<workspace id>/services/<service id>`)
  }
  const apiKey = required(read, 'classic-api-key', 'the classic web service')
  return { url: `${url.origin}${servicePath}`, apiKey, apimSubscriptionKey: read('apim-subscription-key') || undefined }
}

function parseClassicBatch(read: InputReader, env: ParseEnvironment): Settings {
  const service = classicService(read)
  const connectionString = read('storage-connection-string')
  const output = read('classic-output-directory')
  const common = {
    operation: 'classic-batch' as const,
    service,
    outputDirectory: output ? outputDirectory('classic-output-directory', output, env.workspaceRoot) : undefined,
    timeoutMinutes: minutes(read, 'timeout-minutes')
  }
  if (connectionString) {
    if (!/(^|;)(AccountName=|BlobEndpoint=|UseDevelopmentStorage=true)/i.test(connectionString)) {
      throw new InputError('storage-connection-string', 'is not an Azure Storage connection string (DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net)')
    }
    storageBlobEndpoint(connectionString)
    const container = matching('storage-container', required(read, 'storage-container', 'uploading the batch input'), /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'a blob container name is 3-63 lower-case letters, digits and single hyphens')
    if (read('classic-input')) throw new InputError('classic-input', 'with `storage-connection-string`, give the data file in `classic-input-file` (it is uploaded); the payload is built for you')
    const file = existingFile('classic-input-file', required(read, 'classic-input-file', 'uploading the batch input'), env.workspaceRoot)
    return { ...common, input: { kind: 'upload', file, connectionString, container } }
  }
  const body = jsonBody(read, 'classic-input', 'classic-input-file', env.workspaceRoot, 'the batch job payload ({"Inputs": {...}, "Outputs": {...}, "GlobalParameters": {}}), or a data file with `storage-connection-string`')
  const payload = body.value
  maskPayloadSecrets(payload, env.mask)
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload) || !('Inputs' in payload || 'Input' in payload)) {
    throw new InputError(read('classic-input') ? 'classic-input' : 'classic-input-file', 'must be a JSON object with "Inputs" (or "Input"), as the web service\'s Batch Execution help page shows')
  }
  return { ...common, input: { kind: 'payload', payload: payload as Record<string, unknown> } }
}

/**
 * The blob endpoint a storage connection string names must be https, or http on loopback (Azurite): the
 * same transport rule as every other call. The error quotes the endpoint, never the string (it holds a key).
 */
function storageBlobEndpoint(connectionString: string): string {
  const fields = new Map<string, string>()
  for (const part of connectionString.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0) fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim())
  }
  if (fields.get('usedevelopmentstorage')?.toLowerCase() === 'true') return 'http://127.0.0.1:10000/devstoreaccount1'
  const endpoint = fields.get('blobendpoint') ?? `${fields.get('defaultendpointsprotocol') ?? 'https'}://${fields.get('accountname') ?? ''}.blob.${fields.get('endpointsuffix') ?? 'core.windows.net'}`
  return serviceUrl('storage-connection-string', endpoint, 'https://myaccount.blob.core.windows.net')
}

// ---------------------------------------------------------------- credentials, cloud, workspace

interface CredentialsJson {
  clientId?: string
  clientSecret?: string
  tenantId?: string
  subscriptionId?: string
  activeDirectoryEndpointUrl?: string
  resourceManagerEndpointUrl?: string
}

const TENANT_DOMAIN = /^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i

function parseAzure(read: InputReader, env: ParseEnvironment): AzureSettings {
  const subscription = parseSubscription(read, env)
  const resourceGroup = subscription.resourceGroup
  if (!resourceGroup) throw new InputError('resource-group', 'required: the resource group of the workspace')
  const workspaceName = required(read, 'workspace-name', 'the workspace')
  matching('workspace-name', workspaceName, /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$/, '3-33 letters, digits, - or _, starting with a letter or digit')
  return {
    cloud: subscription.cloud,
    principal: subscription.principal,
    workspace: { subscriptionId: subscription.subscriptionId, resourceGroup, workspaceName }
  }
}

function parseSubscription(read: InputReader, env: ParseEnvironment): SubscriptionSettings {
  const json = credentialsJson(read, env)
  const cloudName = oneOf(read, 'cloud', CLOUD_NAMES, 'AzureCloud') as CloudName
  const authorityInput = read('authority-host') ? 'authority-host' : 'azure-credentials'
  const armInput = read('resource-manager-endpoint') ? 'resource-manager-endpoint' : 'azure-credentials'
  const authority = read('authority-host') || json.activeDirectoryEndpointUrl
  const arm = read('resource-manager-endpoint') || json.resourceManagerEndpointUrl
  const cloud = resolveCloud(cloudName, {
    authorityHost: authority ? serviceUrl(authorityInput, authority, 'https://login.microsoftonline.com', true) : undefined,
    resourceManager: arm ? serviceUrl(armInput, arm, 'https://management.azure.com', true) : undefined
  })
  const principal = parsePrincipal(read, env, json, cloud.oidcAudience)
  const sourceOf = (input: string) => (read(input) ? input : 'azure-credentials')
  const subscriptionId = read('subscription-id') || json.subscriptionId
  if (!subscriptionId) throw new InputError('subscription-id', 'required: the subscription of the workspace (or `subscriptionId` in `azure-credentials`)')
  if (!GUID.test(subscriptionId)) throw new InputError(sourceOf('subscription-id'), `the subscription id '${subscriptionId}' is not a GUID`)
  const resourceGroup = read('resource-group') || undefined
  if (resourceGroup !== undefined && (!/^[-\w.()]{1,90}$/.test(resourceGroup) || resourceGroup.endsWith('.'))) {
    throw new InputError('resource-group', `'${resourceGroup}' is not a valid resource group name: 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'`)
  }
  return { cloud, principal, subscriptionId, resourceGroup, workspaceName: read('workspace-name') || undefined }
}

function parsePrincipal(read: InputReader, env: ParseEnvironment, json: CredentialsJson, defaultAudience: string): ServicePrincipal {
  const tenantId = read('tenant-id') || json.tenantId
  const clientId = read('client-id') || json.clientId
  const clientSecret = read('client-secret') || json.clientSecret
  const sourceOf = (input: string) => (read(input) ? input : 'azure-credentials')
  if (!tenantId) throw missingCredential('tenant-id', 'tenantId')
  if (!clientId) throw missingCredential('client-id', 'clientId')
  if (!GUID.test(tenantId) && !TENANT_DOMAIN.test(tenantId)) {
    throw new InputError(sourceOf('tenant-id'), `the tenant id '${tenantId}' is neither a GUID nor a domain name such as contoso.onmicrosoft.com`)
  }
  if (!GUID.test(clientId)) throw new InputError(sourceOf('client-id'), `the client id '${clientId}' is not a GUID (the Application (client) ID of the app registration)`)
  if (clientSecret) return { kind: 'secret', tenantId, clientId, clientSecret }
  const audience = read('oidc-audience') || defaultAudience
  const vars = env.env ?? {}
  if (!vars.ACTIONS_ID_TOKEN_REQUEST_URL || !vars.ACTIONS_ID_TOKEN_REQUEST_TOKEN) {
    throw new InputError(
      'client-secret',
      'no client secret, and no GitHub OIDC token to sign in with instead. Either set `client-secret` (or `clientSecret` in `azure-credentials`), or give the job `permissions: id-token: write` to sign in with OIDC (workload identity federation); note that workflows from forks and Dependabot get no OIDC token'
    )
  }
  return { kind: 'oidc', tenantId, clientId, audience }
}

function missingCredential(input: string, field: string): InputError {
  return new InputError(input, `required: give \`${input}\` or \`azure-credentials\` (the JSON of \`az ad sp create-for-rbac --json-auth\`, with ${field})`)
}

function credentialsJson(read: InputReader, env: ParseEnvironment): CredentialsJson {
  const raw = read('azure-credentials')
  if (!raw) return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    // The parser's message quotes the text, which holds the secret: never show it.
    throw new InputError('azure-credentials', `is not valid JSON (${raw.length} characters); expected the output of \`az ad sp create-for-rbac --json-auth\`: {"clientId": …, "clientSecret": …, "subscriptionId": …, "tenantId": …}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InputError('azure-credentials', 'must be a JSON object with clientId, clientSecret, subscriptionId and tenantId')
  }
  const object = parsed as Record<string, unknown>
  const out: CredentialsJson = {}
  for (const key of ['clientId', 'clientSecret', 'tenantId', 'subscriptionId', 'activeDirectoryEndpointUrl', 'resourceManagerEndpointUrl'] as const) {
    const value = object[key]
    if (value === undefined || value === null || value === '') continue
    if (typeof value !== 'string') throw new InputError('azure-credentials', `"${key}" must be a string`)
    out[key] = value.trim()
  }
  if (out.clientSecret) env.mask(out.clientSecret)
  return out
}

// ---------------------------------------------------------------- run definition file

function readDefinitionFile(file: string, root: string): { path: string; definition: RunDefinition } {
  const text = readTextFile('run-definition-file', file, root)
  let raw: unknown
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''))
  } catch (error) {
    throw new InputError('run-definition-file', `'${file}' is not valid JSON: ${(error as Error).message.split('\n')[0]}`)
  }
  return { path: path.resolve(root, file), definition: normalizeRunDefinition(raw, file) }
}

/** With only a run definition file, the code is the folder it is in (or the project above `.azureml/`). */
function defaultSourceFor(definitionPath: string, root: string): string {
  const folder = path.dirname(definitionPath)
  return path.relative(root, path.basename(folder) === '.azureml' ? path.dirname(folder) : folder) || '.'
}
