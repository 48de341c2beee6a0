import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { dataPlaneUrl, getToken, workspacePath } from '../helpers/emulator-client.js'

let emulator: Emulator
before(async () => {
  emulator = await startEmulator({ port: 0 })
})
after(() => emulator.close())

function form(fields: Record<string, string>): RequestInit {
  return { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) }
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>
}

interface AadError {
  error: string
  error_description: string
  error_codes: number[]
  timestamp: string
  trace_id: string
  correlation_id: string
  error_uri: string
}

describe('Azure AD token endpoints', () => {
  it('v1 answers client credentials with every number as a string and a token for the resource', async () => {
    const id = emulator.identity
    const res = await fetch(
      `${emulator.url}/${id.tenantId}/oauth2/token`,
      form({ grant_type: 'client_credentials', client_id: id.clientId, client_secret: id.clientSecret, resource: 'https://management.azure.com/' })
    )
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json; charset=utf-8/)
    const body = (await res.json()) as Record<string, unknown>
    assert.equal(body.token_type, 'Bearer')
    assert.equal(body.expires_in, '3599')
    assert.equal(body.ext_expires_in, '3599')
    assert.equal(body.resource, 'https://management.azure.com/')
    for (const field of ['expires_on', 'not_before']) assert.match(String(body[field]), /^\d{10}$/, field)
    assert.equal(typeof body.expires_on, 'string')
    const claims = claimsOf(String(body.access_token))
    assert.equal(claims.aud, 'https://management.azure.com/')
    assert.equal(claims.iss, `https://sts.windows.net/${id.tenantId}/`)
    assert.equal(claims.tid, id.tenantId)
    assert.equal(claims.appid, id.clientId)
    assert.equal(claims.oid, id.objectId)
    assert.equal(Number(body.expires_on), claims.exp)
    assert.equal((claims.exp as number) - (claims.iat as number), 3599)
  })

  it('v2 answers with expires_in as a number', async () => {
    const id = emulator.identity
    const res = await fetch(
      `${emulator.url}/${id.tenantId}/oauth2/v2.0/token`,
      form({ grant_type: 'client_credentials', client_id: id.clientId, client_secret: id.clientSecret, scope: 'https://management.azure.com/.default' })
    )
    assert.equal(res.status, 200)
    const body = (await res.json()) as Record<string, unknown>
    assert.equal(body.expires_in, 3599)
    assert.equal(body.token_type, 'Bearer')
    assert.equal(claimsOf(String(body.access_token)).aud, 'https://management.azure.com')
  })

  const cases: Array<{ name: string; status: number; error: string; code: number; path?: string; fields: Record<string, string>; text: RegExp }> = [
    {
      name: 'wrong secret',
      status: 401,
      error: 'invalid_client',
      code: 7000215,
      fields: { client_secret: 'wrong' },
      text: /Invalid client secret provided\. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '22222222-2222-4222-8222-222222222222'\./
    },
    {
      name: 'no secret',
      status: 401,
      error: 'invalid_client',
      code: 7000218,
      fields: { client_secret: '' },
      text: /'client_assertion' or 'client_secret'/
    },
    {
      name: 'unknown client id',
      status: 400,
      error: 'unauthorized_client',
      code: 700016,
      fields: { client_id: '99999999-9999-4999-8999-999999999999' },
      text: /Application with identifier '99999999-9999-4999-8999-999999999999' was not found in the directory '11111111-1111-4111-8111-111111111111'/
    },
    {
      name: 'unknown tenant',
      status: 400,
      error: 'invalid_request',
      code: 90002,
      path: '/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/oauth2/v2.0/token',
      fields: {},
      text: /Tenant 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa' not found/
    },
    { name: 'bad grant type', status: 400, error: 'unsupported_grant_type', code: 70003, fields: { grant_type: 'password' }, text: /unsupported grant type 'password'/ },
    {
      name: 'scope without /.default',
      status: 400,
      error: 'invalid_scope',
      code: 1002012,
      fields: { scope: 'https://management.azure.com/user_impersonation' },
      text: /Client credential flows must have a scope value with \/\.default/
    },
    {
      name: 'scope of an unknown resource',
      status: 400,
      error: 'invalid_resource',
      code: 500011,
      fields: { scope: 'https://nothing.example/.default' },
      text: /The resource principal named https:\/\/nothing\.example was not found/
    },
    {
      name: 'v1 resource unknown',
      status: 400,
      error: 'invalid_resource',
      code: 500011,
      path: '/11111111-1111-4111-8111-111111111111/oauth2/token',
      fields: { scope: '', resource: 'https://nothing.example/' },
      text: /resource principal named https:\/\/nothing\.example\//
    },
    { name: 'missing scope', status: 400, error: 'invalid_request', code: 900144, fields: { scope: '' }, text: /must contain the following parameter: 'scope'/ }
  ]
  for (const c of cases) {
    it(`answers ${c.status} ${c.error} AADSTS${c.code} for ${c.name}`, async () => {
      const id = emulator.identity
      const fields: Record<string, string> = {
        grant_type: 'client_credentials',
        client_id: id.clientId,
        client_secret: id.clientSecret,
        scope: 'https://management.azure.com/.default',
        ...c.fields
      }
      for (const [k, v] of Object.entries(fields)) if (v === '') delete fields[k]
      const res = await fetch(`${emulator.url}${c.path ?? `/${id.tenantId}/oauth2/v2.0/token`}`, {
        ...form(fields),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'client-request-id': 'aad-corr-1' }
      })
      assert.equal(res.status, c.status)
      const body = (await res.json()) as AadError
      assert.equal(body.error, c.error)
      assert.deepEqual(body.error_codes, [c.code])
      assert.ok(body.error_description.startsWith(`AADSTS${c.code}: `), body.error_description)
      assert.match(body.error_description, c.text)
      assert.match(body.error_description, /\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: aad-corr-1\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/)
      assert.equal(body.correlation_id, 'aad-corr-1')
      assert.match(body.timestamp, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/)
      assert.equal(body.error_uri, `${emulator.url}/error?code=${c.code}`)
      assert.equal(res.headers.get('client-request-id'), 'aad-corr-1')
    })
  }

  it('rejects a body that is not a form, and GET', async () => {
    const id = emulator.identity
    const json = await fetch(`${emulator.url}/${id.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials', client_id: id.clientId, client_secret: id.clientSecret })
    })
    assert.equal(json.status, 400)
    assert.deepEqual(((await json.json()) as AadError).error_codes, [900144])
    const get = await fetch(`${emulator.url}/${id.tenantId}/oauth2/v2.0/token`)
    assert.equal(get.status, 405)
    assert.match(((await get.json()) as AadError).error_description, /^AADSTS900561: The endpoint only accepts POST/)
  })

  it('never records secrets or tokens in the request log', async () => {
    await getToken(emulator)
    const log = JSON.stringify(emulator.requests)
    assert.ok(emulator.requests.some(r => r.path.endsWith('/oauth2/v2.0/token') && r.status === 200))
    assert.ok(!log.includes(emulator.identity.clientSecret))
    assert.ok(!/eyJ/.test(log))
  })
})

describe('bearer authentication and roles', () => {
  const armWorkspace = (): string => `${emulator.url}${workspacePath(emulator)}?api-version=2019-11-01`
  const history = (): string => dataPlaneUrl(emulator, 'history/v1.0', '/experiments')

  it('401 AuthenticationFailed with a WWW-Authenticate challenge when the header is missing (ARM and data plane)', async () => {
    const arm = await fetch(armWorkspace())
    assert.equal(arm.status, 401)
    assert.deepEqual(await arm.json(), { error: { code: 'AuthenticationFailed', message: "Authentication failed. The 'Authorization' header is missing." } })
    const challenge = arm.headers.get('www-authenticate') ?? ''
    assert.match(challenge, new RegExp(`^Bearer authorization_uri="${emulator.url}/${emulator.identity.tenantId}", error="invalid_token", error_description="`))
    const dp = await fetch(history())
    assert.equal(dp.status, 401)
    const body = (await dp.json()) as { error: { code: string }; correlation: Record<string, string>; time: string }
    assert.equal(body.error.code, 'AuthenticationFailed')
    assert.ok(body.correlation && body.time, 'data-plane ErrorResponse shape')
    assert.ok(dp.headers.get('www-authenticate'))
    assert.equal(emulator.requests.filter(r => r.authenticatedAs && r.path.includes('/workspaces/') && r.status === 401).length, 0)
  })

  it('401 InvalidAuthenticationToken for a malformed or tampered token', async () => {
    const token = await getToken(emulator)
    const [h, p, s] = token.split('.')
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, appid: 'someone-else' })).toString('base64url')}.${s}`
    for (const bad of ['not-a-jwt', forged]) {
      const res = await fetch(armWorkspace(), { headers: { Authorization: `Bearer ${bad}` } })
      assert.equal(res.status, 401)
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'InvalidAuthenticationToken')
    }
  })

  it('401 ExpiredAuthenticationToken once the token lifetime has passed', async () => {
    const short = await startEmulator({ port: 0, tokenLifetimeSeconds: 1 })
    try {
      const token = await getToken(short)
      const url = `${short.url}${workspacePath(short)}?api-version=2019-11-01`
      assert.equal((await fetch(url, { headers: { Authorization: `Bearer ${token}` } })).status, 200)
      await new Promise(r => setTimeout(r, 1100))
      const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` } })
      assert.equal(res.status, 401)
      const { error } = (await res.json()) as { error: { code: string; message: string } }
      assert.equal(error.code, 'ExpiredAuthenticationToken')
      assert.match(error.message, /^The access token expiry UTC time '.+' is earlier than current UTC time '.+'\.$/)
    } finally {
      await short.close()
    }
  })

  it('401 InvalidAuthenticationTokenAudience for a token of another resource', async () => {
    const id = emulator.identity
    const res = await fetch(
      `${emulator.url}/${id.tenantId}/oauth2/token`,
      form({ grant_type: 'client_credentials', client_id: id.clientId, client_secret: id.clientSecret, resource: 'https://storage.azure.com/' })
    )
    const { access_token } = (await res.json()) as { access_token: string }
    const arm = await fetch(armWorkspace(), { headers: { Authorization: `Bearer ${access_token}` } })
    assert.equal(arm.status, 401)
    const { error } = (await arm.json()) as { error: { code: string; message: string } }
    assert.equal(error.code, 'InvalidAuthenticationTokenAudience')
    assert.match(error.message, /wrong audience or resource 'https:\/\/storage\.azure\.com\/'/)
  })

  it('403 AuthorizationFailed for the principal without a role, on ARM and on the data plane', async () => {
    const token = await getToken(emulator, emulator.identity.noRole)
    const arm = await fetch(armWorkspace(), { headers: { Authorization: `Bearer ${token}` } })
    assert.equal(arm.status, 403)
    const { error } = (await arm.json()) as { error: { code: string; message: string } }
    assert.equal(error.code, 'AuthorizationFailed')
    assert.equal(
      error.message,
      `The client '${emulator.identity.noRole.clientId}' with object id '${emulator.identity.noRole.objectId}' does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/read' over scope '${workspacePath(emulator)}' or the scope is invalid. If access was recently granted, please refresh your credentials.`
    )
    const dp = await fetch(history(), { headers: { Authorization: `Bearer ${token}` } })
    assert.equal(dp.status, 403)
    const body = (await dp.json()) as { error: { code: string; message: string }; correlation: unknown }
    assert.equal(body.error.code, 'AuthorizationFailed')
    assert.ok(body.correlation)
    const logged = emulator.requests.filter(r => r.status === 403)
    assert.ok(logged.every(r => r.authenticatedAs === emulator.identity.noRole.clientId))
  })

  it('credentialsJson is an azure-credentials object pointing at the emulator', () => {
    const creds = JSON.parse(emulator.credentialsJson()) as Record<string, string>
    assert.deepEqual(Object.keys(creds).sort(), [
      'activeDirectoryEndpointUrl',
      'activeDirectoryGraphResourceId',
      'clientId',
      'clientSecret',
      'galleryEndpointUrl',
      'managementEndpointUrl',
      'resourceManagerEndpointUrl',
      'sqlManagementEndpointUrl',
      'subscriptionId',
      'tenantId'
    ])
    assert.equal(creds.activeDirectoryEndpointUrl, emulator.url)
    assert.equal(creds.resourceManagerEndpointUrl, emulator.url)
    assert.equal(creds.clientSecret, emulator.identity.clientSecret)
    assert.match(emulator.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  })
})
