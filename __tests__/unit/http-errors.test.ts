import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { resolveCloud } from '../../src/clouds.js'
import { AzureRequestError, parseErrorBody } from '../../src/http/errors.js'
import { HostPolicy } from '../../src/http/host-policy.js'
import { Pipeline } from '../../src/http/pipeline.js'
import { MemoryLogger } from '../../src/logger.js'

const json = { 'content-type': 'application/json; charset=utf-8' }

describe("reading Azure's error bodies", () => {
  const cases: { name: string; status: number; headers?: Record<string, string>; body: string; code: string; message: RegExp }[] = [
    {
      name: 'ARM',
      status: 404,
      body: JSON.stringify({ error: { code: 'ResourceNotFound', message: "The Resource 'Microsoft.MachineLearningServices/workspaces/x' under resource group 'rg' was not found." } }),
      code: 'ResourceNotFound',
      message: /workspaces\/x' under resource group 'rg'/
    },
    {
      name: 'data plane with inner error',
      status: 404,
      body: JSON.stringify({ error: { code: 'UserError', message: 'Run r1 was not found', innerError: { code: 'NotFoundError' } }, correlation: { operation: 'x' } }),
      code: 'UserError/NotFoundError',
      message: /^Run r1 was not found$/
    },
    {
      name: 'Azure AD',
      status: 401,
      body: JSON.stringify({
        error: 'invalid_client',
        error_description: "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.\r\nTrace ID: abc\r\nCorrelation ID: def\r\nTimestamp: 2026-01-01",
        error_codes: [7000215],
        trace_id: 'abc'
      }),
      code: 'invalid_client (AADSTS7000215)',
      message: /^Invalid client secret provided\. Ensure the secret being sent in the request is the client secret value\.$/
    },
    { name: 'model management', status: 400, body: JSON.stringify({ code: 'BadArgument', statusCode: 400, message: 'Model name is required' }), code: 'BadArgument', message: /Model name is required/ },
    {
      name: 'storage XML',
      status: 403,
      headers: { 'content-type': 'application/xml' },
      body: '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request.\nRequestId:1</Message></Error>',
      code: 'AuthenticationFailed',
      message: /^Server failed to authenticate the request\.$/
    },
    {
      name: 'HTML from a proxy',
      status: 502,
      headers: { 'content-type': 'text/html' },
      body: '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>',
      code: 'HtmlResponse',
      message: /HTML page \("502 Bad Gateway"\).*proxy/
    },
    { name: 'truncated JSON', status: 500, body: '{"error": {"code": "Internal', code: 'InvalidResponse', message: /not valid JSON/ },
    { name: 'empty', status: 503, body: '', code: 'ServiceUnavailable', message: /no body/ },
    { name: 'plain text', status: 400, body: 'bad\u001b[31m request', code: 'BadRequest', message: /^bad \[31m request$/ }
  ]
  for (const c of cases) {
    it(c.name, () => {
      const parsed = parseErrorBody(c.status, { ...json, ...c.headers }, c.body)
      assert.equal(parsed.code, c.code)
      assert.match(parsed.message, c.message)
    })
  }

  it('an error message says what failed, the status, code, message and request id, and hints', () => {
    const e = new AzureRequestError({ operation: "reading workspace 'ws'", status: 403, code: 'AuthorizationFailed', message: 'The client x does not have authorization', requestId: 'req-1', attempts: 1 })
    assert.equal(e.message, "reading workspace 'ws': HTTP 403 AuthorizationFailed: The client x does not have authorization (x-ms-request-id: req-1)")
    assert.match(e.hint ?? '', /AzureML Data Scientist/)
    const secret = new AzureRequestError({ operation: 'token', status: 401, code: 'invalid_client (AADSTS7000215)', message: 'Invalid client secret provided.' })
    assert.match(secret.hint ?? '', /secret VALUE/)
    const retried = new AzureRequestError({ operation: 'x', status: 503, code: 'ServiceUnavailable', message: 'busy', attempts: 6 })
    assert.match(retried.message, /after 6 attempts$/)
  })

  it("a data-plane error without x-ms-request-id carries the body's correlation.request (else .operation)", () => {
    const both = JSON.stringify({ error: { code: 'UserError', message: 'Run r1 was not found' }, correlation: { operation: 'op-1', request: 'req-9' } })
    assert.equal(parseErrorBody(404, json, both).requestId, 'req-9')
    const operationOnly = JSON.stringify({ error: { code: 'UserError', message: 'x' }, correlation: { operation: 'op-1', request: null } })
    assert.equal(parseErrorBody(404, json, operationOnly).requestId, 'op-1')
    // As a failed job's log shows it (Azure/MachineLearningNotebooks#906).
    const pascal = JSON.stringify({ error: { code: 'UserError', message: 'x' }, Correlation: { operation: null, request: '0cd3a5ee3625937d' } })
    assert.equal(parseErrorBody(400, json, pascal).requestId, '0cd3a5ee3625937d')
    assert.equal(parseErrorBody(404, json, JSON.stringify({ error: { code: 'UserError', message: 'x' } })).requestId, undefined)
  })

  it('{"error": "<text>"} (a scoring container, a gateway) is the status and the text, said once', () => {
    const parsed = parseErrorBody(400, json, JSON.stringify({ error: 'Expected a JSON object with a "data" list' }))
    assert.deepEqual(parsed, { code: 'BadRequest', message: 'Expected a JSON object with a "data" list' })
    const e = new AzureRequestError({ operation: 'scoring', status: 400, ...parsed })
    assert.equal(e.message, 'scoring: HTTP 400 BadRequest: Expected a JSON object with a "data" list')
    // Azure AD's shape is recognised by its description or codes, even without a description.
    assert.equal(parseErrorBody(400, json, JSON.stringify({ error: 'invalid_request', error_codes: [900144] })).code, 'invalid_request')
    assert.equal(parseErrorBody(500, json, JSON.stringify({ error: '' })).code, 'InternalServerError')
  })

  it('the request pipeline quotes the correlation request id when no header carries one', async () => {
    const body = JSON.stringify({ error: { code: 'UserError', message: 'Run r1 was not found', innerError: { code: 'NotFoundError' } }, correlation: { operation: 'op-1', request: 'req-9' } })
    const server = createServer((_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end(body))
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const pipeline = new Pipeline({ logger: new MemoryLogger(), hostPolicy: new HostPolicy(resolveCloud('AzureCloud', { authorityHost: url, resourceManager: url })) })
    try {
      const error = await pipeline.send({ method: 'GET', url: `${url}/history/v1.0/runs/r1`, operation: "reading run 'r1'", auth: { kind: 'none' } }).then(
        () => assert.fail('expected a 404 error'),
        (e: unknown) => e
      )
      assert.ok(error instanceof AzureRequestError)
      assert.equal(error.message, "reading run 'r1': HTTP 404 UserError/NotFoundError: Run r1 was not found (x-ms-request-id: req-9)")
    } finally {
      pipeline.dispose()
      server.close()
    }
  })
})
