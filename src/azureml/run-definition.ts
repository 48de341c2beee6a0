import { InputError } from '../errors.js'

/** execution/v1.0 RunConfiguration (camelCase, as in the swagger); unknown keys pass through untouched. */
export interface RunConfiguration {
  script?: string
  arguments?: string[]
  target?: string
  framework?: string
  communicator?: string
  maxRunDurationSeconds?: number | null
  nodeCount?: number
  environment?: Record<string, unknown>
  history?: Record<string, unknown>
  [key: string]: unknown
}

/** execution/v1.0 RunDefinition, the `runDefinitionFile` part of startrun. */
export interface RunDefinition {
  configuration: RunConfiguration
  [key: string]: unknown
}

/** Values from inputs that build a run definition or override the file's fields. */
export interface RunDefinitionOverrides {
  script?: string
  arguments?: string[]
  computeTarget?: string
}

/**
 * The swagger's key names, per object. A key the file spells in another case (the REST how-to submits
 * PascalCase: `Configuration.Script`) is renamed to the swagger's spelling. `OPAQUE` objects are user data
 * (conda files, environment variables) whose keys must never be touched.
 */
const OPAQUE = 'opaque'
type Shape = { [key: string]: Shape | typeof OPAQUE | 'map' | null } | typeof OPAQUE
const DATA_REFERENCE: Shape = { dataStoreName: null, mode: null, pathOnDataStore: null, pathOnCompute: null, overwrite: null }
const RUN_DEFINITION: Shape = {
  configuration: {
    script: null,
    arguments: null,
    sourceDirectoryDataStore: null,
    framework: null,
    communicator: null,
    target: null,
    dataReferences: 'map',
    jobName: null,
    maxRunDurationSeconds: null,
    nodeCount: null,
    environment: {
      name: null,
      version: null,
      python: { interpreterPath: null, userManagedDependencies: null, condaDependencies: OPAQUE, baseCondaEnvironment: null },
      environmentVariables: OPAQUE,
      docker: {
        baseImage: null,
        baseDockerfile: null,
        enabled: null,
        sharedVolumes: null,
        arguments: null,
        baseImageRegistry: { address: null, username: null, password: null }
      },
      spark: { repositories: null, packages: null, precachePackages: null },
      inferencingStackVersion: null
    },
    history: { outputCollection: null, directoriesToWatch: null },
    spark: { configuration: OPAQUE },
    tensorflow: { workerCount: null, parameterServerCount: null },
    mpi: { processCountPerNode: null },
    hdi: { yarnDeployMode: null }
  },
  snapshotId: null,
  parentRunId: null,
  runType: null
}

const INPUT = 'run-definition-file'

/** Reads a run definition in either casing into the swagger's camelCase. Throws an InputError naming the file. */
export function normalizeRunDefinition(raw: unknown, file: string): RunDefinition {
  if (!isObject(raw)) throw new InputError(INPUT, `${file} must hold a JSON object (the run definition), got ${describe(raw)}`)
  const normalized = normalizeObject(raw, RUN_DEFINITION, file, '') as RunDefinition
  if (normalized.configuration === undefined) {
    throw new InputError(INPUT, `${file} has no "Configuration" (or "configuration") object; see the REST how-to's definition.json for the shape`)
  }
  if (!isObject(normalized.configuration)) {
    throw new InputError(INPUT, `${file}: "Configuration" must be an object, got ${describe(normalized.configuration)}`)
  }
  return normalized
}

function normalizeObject(value: Record<string, unknown>, shape: Shape, file: string, at: string): Record<string, unknown> {
  if (shape === OPAQUE) return value
  const known = new Map(Object.keys(shape).map(k => [k.toLowerCase(), k]))
  const out: Record<string, unknown> = {}
  for (const [key, child] of Object.entries(value)) {
    const name = known.get(key.toLowerCase()) ?? key
    if (name in out) throw new InputError(INPUT, `${file}: "${at}${key}" is given twice (keys are case-insensitive)`)
    const childShape = shape[name]
    if (childShape === 'map' && isObject(child)) {
      out[name] = Object.fromEntries(
        Object.entries(child).map(([k, v]) => [k, isObject(v) ? normalizeObject(v, DATA_REFERENCE, file, `${at}${name}.${k}.`) : v])
      )
    } else if (childShape && childShape !== 'map' && isObject(child)) {
      out[name] = normalizeObject(child, childShape, file, `${at}${name}.`)
    } else {
      out[name] = child
    }
  }
  return out
}

/** The definition the run is started with: the file's (or Azure ML's defaults) with the inputs applied. */
export function applyOverrides(base: RunDefinition | undefined, overrides: RunDefinitionOverrides): RunDefinition {
  const definition: RunDefinition = base ? structuredClone(base) : defaultRunDefinition()
  const configuration = definition.configuration
  if (overrides.script !== undefined) configuration.script = overrides.script
  if (overrides.arguments !== undefined) configuration.arguments = overrides.arguments
  if (overrides.computeTarget !== undefined) configuration.target = overrides.computeTarget
  return definition
}

/** What the Azure ML SDK's default RunConfiguration sends for a Python script. */
function defaultRunDefinition(): RunDefinition {
  return {
    configuration: {
      framework: 'Python',
      communicator: 'None',
      nodeCount: 1,
      environment: {
        python: {
          interpreterPath: 'python',
          userManagedDependencies: false,
          condaDependencies: { name: 'project_environment', dependencies: ['python=3.8', { pip: ['azureml-defaults'] }] }
        },
        docker: { enabled: true, baseImage: 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04' }
      },
      history: { outputCollection: true, directoriesToWatch: ['logs'] }
    }
  }
}

/**
 * Checks what Azure would only reject after the upload: a script and a target are set, the script is a
 * relative path inside the snapshot, arguments are strings, the max duration is a positive number.
 * Returns the definition with the script path in canonical form.
 */
export function validateRunDefinition(definition: RunDefinition, snapshotFiles: ReadonlySet<string>, sourceDirectory: string): RunDefinition {
  const configuration = definition.configuration
  const script = configuration.script
  if (typeof script !== 'string' || script.trim() === '') {
    throw new InputError('script', 'no entry script: set `script` (e.g. train.py), or "Script" in the run definition file')
  }
  const canonical = script.trim().replace(/\\/g, '/').replace(/^(\.\/)+/, '')
  if (canonical.startsWith('/') || canonical.split('/').includes('..')) {
    throw new InputError('script', `'${script}' must be a path relative to source-directory (${sourceDirectory}), without '..'`)
  }
  if (!snapshotFiles.has(canonical)) {
    const nearby = [...snapshotFiles].filter(f => f.endsWith('.py')).slice(0, 10)
    throw new InputError('script', `'${canonical}' is not in the snapshot of source-directory '${sourceDirectory}'`, {
      hint: `${nearby.length ? `Python files in the snapshot: ${nearby.join(', ')}. ` : 'The snapshot has no Python files. '}The path is relative to source-directory; check also that .amlignore / .gitignore do not exclude it.`
    })
  }
  configuration.script = canonical
  if (typeof configuration.target !== 'string' || configuration.target.trim() === '') {
    throw new InputError('compute-target', 'no compute target: set `compute-target` (an AmlCompute cluster of the workspace, e.g. cpu-cluster), or "Target" in the run definition file')
  }
  if (configuration.arguments !== undefined) {
    if (!Array.isArray(configuration.arguments)) {
      throw new InputError('arguments', `the run definition's "Arguments" must be a list, got ${describe(configuration.arguments)}`)
    }
    configuration.arguments = configuration.arguments.map((a: unknown, i: number) => {
      if (typeof a === 'string') return a
      if (typeof a === 'number' || typeof a === 'boolean') return String(a)
      throw new InputError('arguments', `argument ${i + 1} of the run definition must be a string, got ${describe(a)}`)
    })
  }
  const max = configuration.maxRunDurationSeconds
  if (max !== undefined && max !== null && !(typeof max === 'number' && Number.isInteger(max) && max > 0)) {
    throw new InputError(INPUT, `"MaxRunDurationSeconds" must be a positive whole number of seconds or null, got ${describe(max)}`)
  }
  return definition
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'string') return `the text "${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`
}
