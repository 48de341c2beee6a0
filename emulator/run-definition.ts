import { dataPlaneError } from './errors.js'

/** The parts of a RunDefinition the emulator acts on, after binding. */
export interface BoundRunDefinition {
  /** The whole definition with known keys in the swagger's camelCase (opaque maps untouched). */
  definition: Record<string, unknown>
  script: string
  arguments: string[]
  target: string
  maxRunDurationSeconds: number | null
  environmentVariables: Record<string, string>
}

// The known property names of a RunDefinition, by level. `null` marks a map whose keys are user data
// (conda dependencies, environment variables, names of data references): its keys are never renamed.
type Shape = { [camelName: string]: Shape | null | 'scalar' }
const OPAQUE = null
const S = 'scalar' as const

const ENVIRONMENT: Shape = {
  name: S,
  version: S,
  python: { interpreterPath: S, userManagedDependencies: S, condaDependencies: OPAQUE, baseCondaEnvironment: S },
  environmentVariables: OPAQUE,
  docker: {
    baseImage: S,
    baseDockerfile: S,
    enabled: S,
    sharedVolumes: S,
    gpuSupport: S,
    shmSize: S,
    arguments: S,
    baseImageRegistry: { address: S, username: S, password: S }
  },
  spark: { repositories: S, packages: S, precachePackages: S },
  inferencingStackVersion: S
}

const RUN_DEFINITION: Shape = {
  configuration: {
    script: S,
    arguments: S,
    framework: S,
    communicator: S,
    target: S,
    dataReferences: OPAQUE,
    jobName: S,
    maxRunDurationSeconds: S,
    nodeCount: S,
    environment: ENVIRONMENT,
    history: { outputCollection: S, directoriesToWatch: S, snapshotProject: S },
    spark: { configuration: OPAQUE },
    tensorflow: { workerCount: S, parameterServerCount: S },
    mpi: { processCountPerNode: S },
    hdi: { yarnDeployMode: S },
    sourceDirectoryDataStore: S,
    amlCompute: OPAQUE
  },
  snapshotId: S,
  parentRunId: S,
  runType: S
}

/**
 * Binds a RunDefinition the way the service does: property names case-insensitively (Microsoft's own
 * how-to sends PascalCase, the swagger camelCase), values checked for the fields the emulator uses.
 */
export function bindRunDefinition(raw: unknown): BoundRunDefinition {
  if (!isObject(raw)) throw invalid('The run definition must be a JSON object.')
  const definition = bind(raw, RUN_DEFINITION) as Record<string, unknown>
  const configuration = definition.configuration
  if (!isObject(configuration)) throw invalid("The run definition has no 'configuration' object.", 'configuration')
  const script = configuration.script
  if (typeof script !== 'string' || script.trim() === '') throw invalid("The run definition has no 'configuration.script': name the entry script, relative to the project root.", 'configuration.script')
  if (script.startsWith('/') || script.split(/[\\/]/).includes('..')) {
    throw invalid(`The script '${script}' must be a path inside the project folder.`, 'configuration.script')
  }
  const args = configuration.arguments ?? []
  if (!Array.isArray(args) || args.some(a => a !== null && typeof a === 'object')) {
    throw invalid("'configuration.arguments' must be an array of strings.", 'configuration.arguments')
  }
  const target = configuration.target ?? 'local'
  if (typeof target !== 'string') throw invalid("'configuration.target' must be a string.", 'configuration.target')
  const max = configuration.maxRunDurationSeconds ?? null
  if (max !== null && (typeof max !== 'number' || !Number.isInteger(max) || max <= 0)) {
    throw invalid("'configuration.maxRunDurationSeconds' must be a positive integer or null.", 'configuration.maxRunDurationSeconds')
  }
  const env = isObject(configuration.environment) ? configuration.environment.environmentVariables ?? {} : {}
  if (!isObject(env) || Object.values(env).some(v => v !== null && typeof v === 'object')) {
    throw invalid("'configuration.environment.environmentVariables' must map names to strings.", 'configuration.environment.environmentVariables')
  }
  // The service binds these to string[] and map<string,string>: what it stores and returns is the bound form.
  const boundArgs = args.map(a => (a === null ? '' : String(a)))
  const boundEnv = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]))
  if (configuration.arguments !== undefined) configuration.arguments = boundArgs
  if (isObject(configuration.environment) && configuration.environment.environmentVariables !== undefined) {
    configuration.environment.environmentVariables = boundEnv
  }
  return { definition, script, arguments: boundArgs, target, maxRunDurationSeconds: max, environmentVariables: boundEnv }
}

function bind(value: unknown, shape: Shape | null | 'scalar'): unknown {
  if (shape === null || shape === 'scalar' || !isObject(value)) return value
  const known = new Map(Object.keys(shape).map(k => [k.toLowerCase(), k]))
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    const name = known.get(key.toLowerCase())
    if (name) out[name] = bind(v, shape[name])
    else out[key.charAt(0).toLowerCase() + key.slice(1)] = v
  }
  return out
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function invalid(message: string, target?: string): Error {
  return dataPlaneError(400, 'ValidationError', message, { innerCode: 'BadArgument', target })
}
