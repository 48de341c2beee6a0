import {
  checkGlobalParameters,
  classicError,
  readClassicBody,
  resolveClassicService,
  runExperiment,
  type ClassicRouteOptions,
  type ClassicService,
  type ClassicServices,
  type ClassicTable
} from './classic.js'
import { json, type Reply, type RequestContext, type Route } from './http.js'

/** What the request-response service needs. */
export interface ClassicRrsDeps {
  services: ClassicServices
}

/**
 * The Request-Response Service of classic web services: `POST …/execute?api-version=2.0[&details=true]`
 * with the column form `{"Inputs":{"input1":{"ColumnNames","Values"}},"GlobalParameters":{}}`, or with
 * `format=swagger` the row form `{"Inputs":{"input1":[{column: value}]}}`.
 */
export function classicRrsRoutes(deps: ClassicRrsDeps, options: ClassicRouteOptions = {}): Route[] {
  const prefix = options.prefix ?? ''
  return [
    {
      method: 'POST',
      pattern: `${prefix}/workspaces/{ws}/services/{svc}/execute`,
      service: 'studio',
      handler: async ctx => {
        options.gate?.(ctx)
        return execute(resolveClassicService(deps.services, ctx), ctx)
      }
    }
  ]
}

async function execute(service: ClassicService, ctx: RequestContext): Promise<Reply> {
  const body = await readClassicBody(ctx)
  const swagger = (ctx.query.get('format') ?? '').toLowerCase() === 'swagger'
  const inputs = body.Inputs
  if (inputs === undefined || inputs === null || (typeof inputs === 'object' && !Array.isArray(inputs) && Object.keys(inputs).length === 0)) {
    throw classicError('BadArgument', {
      code: 'MissingRequestInput',
      message: 'The web service expects an input, but no input was provided. Ensure valid inputs are provided based on the published input ports in the model and try again.'
    })
  }
  if (typeof inputs !== 'object' || Array.isArray(inputs)) {
    throw classicError('BadArgument', { code: 'RequestBodyInvalid', message: 'No request body provided or error in deserializing the request body.' })
  }
  const unknown = Object.keys(inputs).filter(name => name !== service.inputName)
  if (unknown.length) {
    throw classicError('BadArgument', {
      code: 'InvalidInputNames',
      message: `Invalid service input name(s) specified in the request: ${unknown.join(', ')}. Please map the input data to the correct service inputs and try again.`
    })
  }
  checkGlobalParameters(body.GlobalParameters)
  const input: unknown = (inputs as Record<string, unknown>)[service.inputName]
  const table = swagger ? runOnRows(service, input) : runOnTable(service, input)
  if (swagger) {
    const rows = table.values.map(row => Object.fromEntries(table.columnNames.map((name, i) => [name, row[i]])))
    return json(200, { Results: { [service.outputName]: rows } })
  }
  // Without details=true the service leaves the column types out (the API help page says so).
  const details = (ctx.query.get('details') ?? '').toLowerCase() === 'true'
  const value = details ? { ColumnNames: table.columnNames, ColumnTypes: table.columnTypes, Values: table.values } : { ColumnNames: table.columnNames, Values: table.values }
  return json(200, { Results: { [service.outputName]: { type: 'table', value } } })
}

function runOnTable(service: ClassicService, input: unknown): ClassicTable {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw classicError('BadUserArgument', {
      code: 'InputParseError',
      target: service.inputName,
      message: `Parsing of input vector failed.  Verify the input vector has the correct number of columns and data types.  Additional details: ${service.inputName} must be an object with ColumnNames and Values (rows as objects need format=swagger).`
    })
  }
  const { ColumnNames, Values } = input as { ColumnNames?: unknown; Values?: unknown }
  return runExperiment(service, ColumnNames, Values)
}

function runOnRows(service: ClassicService, input: unknown): ClassicTable {
  if (!Array.isArray(input) || !input.every(row => typeof row === 'object' && row !== null && !Array.isArray(row))) {
    throw classicError('BadUserArgument', {
      code: 'InputParseError',
      target: service.inputName,
      message: `Parsing of input vector failed.  Verify the input vector has the correct number of columns and data types.  Additional details: with format=swagger, ${service.inputName} must be an array of objects (one per row).`
    })
  }
  const rows = input as Array<Record<string, unknown>>
  const names = [...new Set(rows.flatMap(r => Object.keys(r)))]
  return runExperiment(
    service,
    names,
    rows.map(r => names.map(n => r[n] ?? null))
  )
}
