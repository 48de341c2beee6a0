import { readFileSync, realpathSync, statSync } from 'node:fs'
import path from 'node:path'
import { CLOUD_NAMES, isLoopbackHost, resolveCloud, type Cloud, type CloudName } from './clouds.js'
import { InputError } from './errors.js'
import { normalizeRunDefinition, type RunDefinition, type RunDefinitionOverrides } from './azureml/run-definition.js'
import type { WorkspaceRef } from './azureml/session.js'

/**
 * The only reader of inputs. Turns the raw strings of action.yml into a typed, validated settings object
 * per operation; every problem is an InputError that names the input and says what is allowed, raised
 * before anything is sent.
 */

export const OPERATIONS = [
  'train',
  'wait-run',
  'cancel-run',
  'register-model',
  'delete-model',
  'list',
  'create-compute',
  'create-workspace',
  'score',
  'classic-score',
  'classic-batch'
] as const
export type Operation = (typeof OPERATIONS)[number]

/** Reads one input: the trimmed value, '' when not given (what core.getInput returns). */
export type InputReader = (name: string) => string

/** Inputs whose values are credentials: masked before anything else happens. */
export const SECRET_INPUTS = ['azure-credentials', 'client-secret'] as const

/** How the action signs in to Azure AD. */
export type ServicePrincipal =
  | { kind: 'secret'; tenantId: string; clientId: string; clientSecret: string }
  | { kind: 'oidc'; tenantId: string; clientId: string; audience: string }

/** Everything needed to reach a workspace. */
export interface AzureSettings {
  cloud: Cloud
  principal: ServicePrincipal
  workspace: WorkspaceRef
}

export interface WaitSettings {
  /** false: return right after the run is started. */
  wait: boolean
  timeoutMinutes?: number
  cancelOnTimeout: boolean
}

export interface TrainSettings {
  operation: 'train'
  azure: AzureSettings
  experimentName: string
  /** Absolute path of the folder to snapshot. */
  sourceDirectory: string
  /** The run definition file, read and normalized to camelCase. */
  definitionFile?: { path: string; definition: RunDefinition }
  overrides: RunDefinitionOverrides
  runTags: Record<string, string>
  waiting: WaitSettings
}

export type Settings = TrainSettings

export interface ParseEnvironment {
  /** Root the source directory must stay inside (GITHUB_WORKSPACE). */
  workspaceRoot: string
  /** Called with each secret as soon as it is read, before any validation can fail. */
  mask: (secret: string) => void
}

/** Reads and validates all inputs of the chosen operation. */
export function parseSettings(read: InputReader, env: ParseEnvironment): Settings {
  for (const name of SECRET_INPUTS) {
    const value = read(name)
    if (value) env.mask(value)
  }
  const operation = oneOf(read, 'operation', OPERATIONS, 'train')
  switch (operation) {
    case 'train':
      return parseTrain(read, env)
    default:
      throw new InputError('operation', `'${operation}' is not available in this version; allowed: train`)
  }
}

function parseTrain(read: InputReader, env: ParseEnvironment): TrainSettings {
  const azure = parseAzure(read, env)
  const experimentName = required(read, 'experiment-name', 'train')
  if (!/^[a-zA-Z0-9][\w-]{0,254}$/.test(experimentName)) {
    throw new InputError('experiment-name', `'${experimentName}' is not a valid experiment name: use 1-255 letters, digits, '-' or '_', starting with a letter or digit`)
  }
  const definitionPath = read('run-definition-file')
  const definitionFile = definitionPath ? readDefinitionFile(definitionPath, env.workspaceRoot) : undefined
  const sourceInput = read('source-directory') || (definitionFile ? defaultSourceFor(definitionFile.path, env.workspaceRoot) : '.')
  const sourceDirectory = existingDirectory('source-directory', sourceInput, env.workspaceRoot)
  const script = read('script') || undefined
  const argumentsInput = read('arguments')
  const computeTarget = read('compute-target') || undefined
  if (computeTarget !== undefined && !/^[a-zA-Z][a-zA-Z0-9-]{1,31}$|^local$/.test(computeTarget)) {
    throw new InputError('compute-target', `'${computeTarget}' is not a valid compute name: 2-32 letters, digits or '-', starting with a letter`)
  }
  return {
    operation: 'train',
    azure,
    experimentName,
    sourceDirectory,
    definitionFile,
    overrides: {
      script,
      arguments: argumentsInput ? lines(argumentsInput) : undefined,
      computeTarget
    },
    runTags: keyValueLines(read, 'run-tags'),
    waiting: parseWaiting(read)
  }
}

function parseWaiting(read: InputReader): WaitSettings {
  return {
    wait: boolean(read, 'wait', true),
    timeoutMinutes: minutes(read, 'timeout-minutes'),
    cancelOnTimeout: boolean(read, 'cancel-on-timeout', true)
  }
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

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const TENANT_DOMAIN = /^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i

/**
 * Only the credentials, cloud and workspace: what the post step needs to cancel a run. (It reads the
 * inputs again rather than keeping secrets in the saved state.)
 */
export function parseAzureSettings(read: InputReader, env: ParseEnvironment): AzureSettings {
  for (const name of SECRET_INPUTS) {
    const value = read(name)
    if (value) env.mask(value)
  }
  return parseAzure(read, env)
}

function parseAzure(read: InputReader, env: ParseEnvironment): AzureSettings {
  const json = credentialsJson(read, env)
  const cloudName = oneOf(read, 'cloud', CLOUD_NAMES, 'AzureCloud') as CloudName
  const authorityHost = endpoint(read('authority-host') ? 'authority-host' : 'azure-credentials', read('authority-host') || json.activeDirectoryEndpointUrl)
  const resourceManager = endpoint(
    read('resource-manager-endpoint') ? 'resource-manager-endpoint' : 'azure-credentials',
    read('resource-manager-endpoint') || json.resourceManagerEndpointUrl
  )
  const cloud = resolveCloud(cloudName, { authorityHost, resourceManager })

  const tenantId = read('tenant-id') || json.tenantId
  const clientId = read('client-id') || json.clientId
  const clientSecret = read('client-secret') || json.clientSecret
  if (clientSecret) env.mask(clientSecret)
  const sourceOf = (input: string) => (read(input) ? input : 'azure-credentials')
  if (!tenantId) throw missingCredential('tenant-id', 'tenantId')
  if (!clientId) throw missingCredential('client-id', 'clientId')
  if (!GUID.test(tenantId) && !TENANT_DOMAIN.test(tenantId)) {
    throw new InputError(sourceOf('tenant-id'), `the tenant id '${tenantId}' is neither a GUID nor a domain name such as contoso.onmicrosoft.com`)
  }
  if (!GUID.test(clientId)) throw new InputError(sourceOf('client-id'), `the client id '${clientId}' is not a GUID (the Application (client) ID of the app registration)`)
  if (!clientSecret) {
    throw new InputError('client-secret', 'required: give `client-secret` or `azure-credentials` with clientSecret (sign-in without a secret through OIDC comes in a later version)')
  }
  const principal: ServicePrincipal = { kind: 'secret', tenantId, clientId, clientSecret }

  const subscriptionId = read('subscription-id') || json.subscriptionId
  if (!subscriptionId) {
    throw new InputError('subscription-id', 'required: the subscription of the workspace (or `subscriptionId` in `azure-credentials`)')
  }
  if (!GUID.test(subscriptionId)) {
    throw new InputError(sourceOf('subscription-id'), `the subscription id '${subscriptionId}' is not a GUID`)
  }
  const resourceGroup = required(read, 'resource-group', 'the workspace')
  if (!/^[-\w.()]{1,90}$/.test(resourceGroup) || resourceGroup.endsWith('.')) {
    throw new InputError('resource-group', `'${resourceGroup}' is not a valid resource group name: 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'`)
  }
  const workspaceName = required(read, 'workspace-name', 'the workspace')
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$/.test(workspaceName)) {
    throw new InputError('workspace-name', `'${workspaceName}' is not a valid workspace name: 3-33 letters, digits, '-' or '_', starting with a letter or digit`)
  }
  return { cloud, principal, workspace: { subscriptionId, resourceGroup, workspaceName } }
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

/** An endpoint override: https, or http only to loopback (the local Azure ML service). */
function endpoint(input: string, value: string | undefined): string | undefined {
  if (!value) return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InputError(input, `'${value}' is not a URL (expected e.g. https://login.microsoftonline.com)`)
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new InputError(input, `'${value}' must use https:// (plain http:// is allowed only for loopback hosts such as the local Azure ML service)`)
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new InputError(input, `'${value}' must be a bare endpoint URL without query, fragment or user info`)
  }
  return url.toString().replace(/\/+$/, '')
}

// ---------------------------------------------------------------- files and folders

/** The run definition file, read and parsed; the error names the input and never guesses. */
function readDefinitionFile(file: string, root: string): { path: string; definition: RunDefinition } {
  const absolute = path.resolve(root, file)
  let text: string
  try {
    text = readFileSync(absolute, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory, not a file' : `cannot be read (${code ?? String(error)})`
    throw new InputError('run-definition-file', `'${file}' ${why} (looked at ${absolute})`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''))
  } catch (error) {
    throw new InputError('run-definition-file', `'${file}' is not valid JSON: ${(error as Error).message.split('\n')[0]}`)
  }
  return { path: absolute, definition: normalizeRunDefinition(raw, file) }
}

/** With only a run definition file, the code is the folder it is in (or the project above `.azureml/`). */
function defaultSourceFor(definitionPath: string, root: string): string {
  const folder = path.dirname(definitionPath)
  return path.relative(root, path.basename(folder) === '.azureml' ? path.dirname(folder) : folder) || '.'
}

/** A directory that exists and stays inside the workspace, as an absolute real path. */
function existingDirectory(input: string, value: string, root: string): string {
  const absolute = path.resolve(root, value)
  let stats
  try {
    stats = statSync(absolute)
  } catch {
    throw new InputError(input, `'${value}' does not exist (looked at ${absolute})`)
  }
  if (!stats.isDirectory()) throw new InputError(input, `'${value}' is not a directory`)
  const real = realpathSync(absolute)
  const realRoot = realpathSync(root)
  const relative = path.relative(realRoot, real)
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new InputError(input, `'${value}' is outside the workspace (${realRoot}); only folders of the checked-out repository can be uploaded`)
  }
  return real
}

// ---------------------------------------------------------------- scalar parsers

function required(read: InputReader, name: string, what: string): string {
  const value = read(name)
  if (!value) throw new InputError(name, `required for ${what}`)
  return value
}

function oneOf<T extends string>(read: InputReader, name: string, allowed: readonly T[], fallback: T): T {
  const value = read(name)
  if (!value) return fallback
  const match = allowed.find(a => a.toLowerCase() === value.toLowerCase())
  if (!match) throw new InputError(name, `'${value}' is not allowed; use one of: ${allowed.join(', ')}`)
  return match
}

/** YAML 1.2 core-schema booleans, as core.getBooleanInput accepts them. */
function boolean(read: InputReader, name: string, fallback: boolean): boolean {
  const value = read(name)
  if (!value) return fallback
  if (['true', 'True', 'TRUE'].includes(value)) return true
  if (['false', 'False', 'FALSE'].includes(value)) return false
  throw new InputError(name, `'${value}' is not a boolean; use true or false`)
}

/** A positive number of minutes (fractions allowed), at most 30 days. */
function minutes(read: InputReader, name: string): number | undefined {
  const value = read(name)
  if (!value) return undefined
  const n = Number(value)
  if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n) || n <= 0 || n > 43_200) {
    throw new InputError(name, `'${value}' is not a positive number of minutes (up to 43200)`)
  }
  return n
}

/** Non-empty lines, trimmed. */
function lines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map(l => l.trim())
    .filter(l => l !== '')
}

/** `key=value` per line. */
function keyValueLines(read: InputReader, name: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of lines(read(name))) {
    const eq = line.indexOf('=')
    const key = eq > 0 ? line.slice(0, eq).trim() : ''
    if (!key) throw new InputError(name, `'${line}' is not key=value (one pair per line)`)
    out[key] = line.slice(eq + 1).trim()
  }
  return out
}
