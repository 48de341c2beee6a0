/**
 * A small Swagger 2.0 validator for the Azure contracts in __tests__/contracts (unedited copies of
 * Azure/azure-rest-api-specs files, kept in the repository so any checkout can run the suite; provenance and
 * licence in __tests__/contracts/SOURCES.md): resolves `$ref`s into
 * `definitions`, follows `allOf` and `discriminator`, and checks type, format (uuid, date-time, int32/int64,
 * duration), enum, required, items and additionalProperties.
 *
 * Conventions of the Azure specs it follows (AutoRest's reading of them):
 * - a bare `{"type":"object"}` (no properties, no additionalProperties) is "any value", as in .NET's `object`;
 * - `null` is accepted for a property that is not required, unless the schema says `x-nullable: false`.
 * With `strict: true` it also rejects properties a schema does not declare, to catch misspelt fields.
 */
import { AssertionError } from 'node:assert'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** A Swagger 2.0 schema object (only what the validator reads). */
export interface Schema {
  $ref?: string
  type?: string
  format?: string
  enum?: unknown[]
  required?: string[]
  properties?: Record<string, Schema>
  additionalProperties?: Schema | boolean
  items?: Schema
  allOf?: Schema[]
  discriminator?: string
  'x-ms-discriminator-value'?: string
  'x-nullable'?: boolean
  minimum?: number
  maximum?: number
  pattern?: string
}

interface Operation {
  responses?: Record<string, { schema?: Schema }>
}

/** A loaded Swagger document. */
export interface SwaggerDoc {
  swagger: string
  paths: Record<string, Record<string, Operation>>
  definitions?: Record<string, Schema>
}

/** Options of a validation. */
export interface ValidateOptions {
  /** Reject properties the schema does not declare. */
  strict?: boolean
}

/** Where the contracts are: inside the repository, never beside it (CI checks out this repository alone). */
export const CONTRACTS_DIR = fileURLToPath(new URL('../contracts/', import.meta.url))
const cache = new Map<string, SwaggerDoc>()

/** Loads a contract by its path under __tests__/contracts, e.g. `data-plane-2019-09-30/runHistory.json`. */
export function loadContract(file: string): SwaggerDoc {
  let doc = cache.get(file)
  if (!doc) {
    doc = JSON.parse(readFileSync(path.join(CONTRACTS_DIR, file), 'utf8').replace(/^\uFEFF/, '')) as SwaggerDoc
    cache.set(file, doc)
  }
  return doc
}

/** The problems of `value` against `schema` (empty when it validates). */
export function validateSchema(doc: SwaggerDoc, schema: Schema, value: unknown, options: ValidateOptions = {}, at = '$'): string[] {
  return new Validator(doc, options).check(schema, value, at, false)
}

/** Asserts that `value` validates against `definitions[name]` of a contract. */
export function validateDefinition(file: string, name: string, value: unknown, options: ValidateOptions = {}): void {
  const doc = loadContract(file)
  if (!doc.definitions?.[name]) throw new Error(`${file} has no definition '${name}'`)
  report(`${file}#/definitions/${name}`, validateSchema(doc, { $ref: `#/definitions/${name}` }, value, options))
}

/**
 * Asserts that a response body validates against the schema the contract declares for this operation and
 * status (or its `default` response). `pathTemplate` is a key of `paths` or a concrete path matching one.
 */
export function validateResponse(
  file: string,
  pathTemplate: string,
  method: string,
  status: number,
  body: unknown,
  options: ValidateOptions = {}
): void {
  const doc = loadContract(file)
  const template = findPath(doc, pathTemplate)
  const operation = doc.paths[template][method.toLowerCase()]
  if (!operation) throw new Error(`${file}: ${template} has no ${method.toUpperCase()} operation`)
  const response = operation.responses?.[String(status)] ?? operation.responses?.default
  if (!response) throw new Error(`${file}: ${method.toUpperCase()} ${template} declares no response ${status} and no default`)
  if (!response.schema) {
    if (body !== undefined && body !== null && body !== '') report(`${method} ${template} ${status}`, ['the contract declares no body for this response'])
    return
  }
  report(`${method.toUpperCase()} ${template} → ${status}`, validateSchema(doc, response.schema, body, options))
}

function findPath(doc: SwaggerDoc, given: string): string {
  if (doc.paths[given]) return given
  const concrete = given.split('?')[0]
  for (const template of Object.keys(doc.paths)) {
    const re = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`, 'i')
    if (re.test(concrete)) return template
  }
  throw new Error(`no path of the contract matches ${given}`)
}

function report(what: string, problems: string[]): void {
  if (problems.length) {
    throw new AssertionError({ message: `response does not match ${what}:\n  ${problems.slice(0, 20).join('\n  ')}` })
  }
}

const FORMATS: Record<string, RegExp> = {
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  'date-time': /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
  duration: /^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/
}

class Validator {
  constructor(
    private readonly doc: SwaggerDoc,
    private readonly options: ValidateOptions
  ) {}

  check(schema: Schema, value: unknown, at: string, skipDiscriminator: boolean): string[] {
    const s = this.resolve(schema)
    if (s.discriminator && !skipDiscriminator && isObject(value)) {
      const sub = this.subtype(s, value[s.discriminator])
      if (sub) return this.check(sub, value, at, true)
    }
    if (s.enum && !s.enum.includes(value)) return [`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(s.enum)}`]
    const type = s.type ?? (s.properties || s.allOf || s.additionalProperties ? 'object' : undefined)
    switch (type) {
      case undefined:
        return []
      case 'string':
        if (typeof value !== 'string') return [`${at}: expected a string, got ${describe(value)}`]
        if (s.format && FORMATS[s.format] && !FORMATS[s.format].test(value)) return [`${at}: '${value}' is not a valid ${s.format}`]
        if (s.pattern && !new RegExp(s.pattern).test(value)) return [`${at}: '${value}' does not match ${s.pattern}`]
        return []
      case 'integer': {
        if (typeof value !== 'number' || !Number.isInteger(value)) return [`${at}: expected an integer, got ${describe(value)}`]
        if (s.format === 'int32' && (value < -(2 ** 31) || value >= 2 ** 31)) return [`${at}: ${value} is out of int32 range`]
        return []
      }
      case 'number':
        return typeof value === 'number' ? [] : [`${at}: expected a number, got ${describe(value)}`]
      case 'boolean':
        return typeof value === 'boolean' ? [] : [`${at}: expected a boolean, got ${describe(value)}`]
      case 'file':
        return []
      case 'array':
        if (!Array.isArray(value)) return [`${at}: expected an array, got ${describe(value)}`]
        return s.items ? value.flatMap((item, i) => this.check(s.items as Schema, item, `${at}[${i}]`, false)) : []
      case 'object':
        return this.checkObject(s, value, at)
      default:
        return [`${at}: the contract uses an unknown type '${type}'`]
    }
  }

  private checkObject(s: Schema, value: unknown, at: string): string[] {
    const merged = this.merge(s)
    const isAny = !merged.properties.size && merged.additionalProperties === undefined && !s.allOf
    if (isAny) return []
    if (!isObject(value)) return [`${at}: expected an object, got ${describe(value)}`]
    const problems: string[] = []
    for (const name of merged.required) if (value[name] === undefined || value[name] === null) problems.push(`${at}.${name}: required`)
    for (const [name, v] of Object.entries(value)) {
      const prop = merged.properties.get(name)
      if (prop) {
        if (v === null) {
          if (merged.required.includes(name) || this.resolve(prop)['x-nullable'] === false) problems.push(`${at}.${name}: must not be null`)
          continue
        }
        problems.push(...this.check(prop, v, `${at}.${name}`, false))
      } else if (merged.additionalProperties === false || (merged.additionalProperties === undefined && this.options.strict)) {
        problems.push(`${at}.${name}: not declared by the contract`)
      } else if (typeof merged.additionalProperties === 'object') {
        if (v !== null) problems.push(...this.check(merged.additionalProperties, v, `${at}.${name}`, false))
      }
    }
    return problems
  }

  /** Properties, required names and additionalProperties of a schema and everything it `allOf`s. */
  private merge(s: Schema): { properties: Map<string, Schema>; required: string[]; additionalProperties: Schema | boolean | undefined } {
    const properties = new Map<string, Schema>()
    const required: string[] = []
    let additionalProperties: Schema | boolean | undefined
    const visit = (schema: Schema): void => {
      const r = this.resolve(schema)
      for (const part of r.allOf ?? []) visit(part)
      for (const [name, prop] of Object.entries(r.properties ?? {})) properties.set(name, prop)
      required.push(...(r.required ?? []))
      if (r.additionalProperties !== undefined) additionalProperties = r.additionalProperties
    }
    visit(s)
    return { properties, required, additionalProperties }
  }

  /** The definition that extends `base` (through allOf) for this discriminator value. */
  private subtype(base: Schema, value: unknown): Schema | undefined {
    if (typeof value !== 'string') return undefined
    for (const [name, def] of Object.entries(this.doc.definitions ?? {})) {
      const tag = def['x-ms-discriminator-value'] ?? name
      if (tag !== value) continue
      if ((def.allOf ?? []).some(part => part.$ref && this.resolve(part) === base)) return def
    }
    return undefined
  }

  private resolve(schema: Schema): Schema {
    let s = schema
    for (let depth = 0; s.$ref; depth++) {
      if (depth > 20 || !s.$ref.startsWith('#/definitions/')) throw new Error(`unsupported $ref ${s.$ref}`)
      const target = this.doc.definitions?.[s.$ref.slice('#/definitions/'.length)]
      if (!target) throw new Error(`unresolved $ref ${s.$ref}`)
      s = target
    }
    return s
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'string' ? `the string '${value.slice(0, 40)}'` : `${typeof value} ${JSON.stringify(value)?.slice(0, 40)}`
}
