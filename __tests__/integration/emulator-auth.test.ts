import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { dataPlaneUrl, definition, getToken, makeZip, pollRun, submit, workspacePath } from '../helpers/emulator-client.js'

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

describe('every route of the train path needs a valid token this service issued', () => {
  // Its own service: the token lifetime is changed here to get an expired token.
  let service: Emulator
  let good: string
  let runId: string
  const bad: Record<string, string | undefined> = {}
  before(async () => {
    service = await startEmulator({ port: 0, runPhaseDelayMs: 10 })
    good = await getToken(service)
    runId = await submit(service, good, { experiment: 'auth-exp', files: { 'a.py': 'print("hello")\n' }, definition: definition('a.py') })
    await pollRun(service, good, 'auth-exp', runId)
    bad['no token'] = undefined
    service.configure({ tokenLifetimeSeconds: 1 })
    bad.expired = await getToken(service)
    service.configure({ tokenLifetimeSeconds: 3599 })
    const id = service.identity
    const storage = await fetch(
      `${service.url}/${id.tenantId}/oauth2/token`,
      form({ grant_type: 'client_credentials', client_id: id.clientId, client_secret: id.clientSecret, resource: 'https://storage.azure.com/' })
    )
    bad['wrong audience'] = ((await storage.json()) as { access_token: string }).access_token
    // The service's own token with other claims under the original signature.
    const [h, p, sig] = good.split('.')
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>
    bad['forged signature'] = `${h}.${Buffer.from(JSON.stringify({ ...claims, exp: (claims.exp as number) + 86_400 })).toString('base64url')}.${sig}`
    await new Promise(r => setTimeout(r, 1100))
  })
  after(() => service.close())

  const log = 'azureml-logs/70_driver_log.txt'
  const startrunBody = (): FormData => {
    const body = new FormData()
    body.append('runDefinitionFile', new Blob([JSON.stringify(definition('a.py'))], { type: 'application/json' }), 'definition.json')
    body.append('projectZipFile', new Blob([makeZip({ 'a.py': 'print("hello")\n' })], { type: 'application/zip' }), 'project.zip')
    return body
  }
  const routes: Array<{ name: string; shape: 'arm' | 'dataPlane'; method?: string; url: () => string; body?: () => FormData }> = [
    { name: 'ARM workspace', shape: 'arm', url: () => `${service.url}${workspacePath(service)}?api-version=2019-11-01` },
    { name: 'discovery', shape: 'arm', url: () => `${service.url}/discovery` },
    { name: 'history run', shape: 'dataPlane', url: () => dataPlaneUrl(service, 'history/v1.0', `/experiments/auth-exp/runs/${runId}`) },
    { name: 'history run details', shape: 'dataPlane', url: () => dataPlaneUrl(service, 'history/v1.0', `/experiments/auth-exp/runs/${runId}/details`) },
    { name: 'history metrics', shape: 'dataPlane', url: () => dataPlaneUrl(service, 'history/v1.0', `/experiments/auth-exp/metrics?$filter=${encodeURIComponent(`RunId eq ${runId}`)}`) },
    { name: 'history experiments', shape: 'dataPlane', url: () => dataPlaneUrl(service, 'history/v1.0', '/experiments') },
    { name: 'execution startrun', shape: 'dataPlane', method: 'POST', url: () => dataPlaneUrl(service, 'execution/v1.0', '/experiments/auth-exp/startrun'), body: startrunBody },
    { name: 'execution cancel', shape: 'dataPlane', method: 'POST', url: () => dataPlaneUrl(service, 'execution/v1.0', `/experiments/auth-exp/runId/${runId}/cancel`) },
    { name: 'artifacts list', shape: 'dataPlane', url: () => dataPlaneUrl(service, 'artifact/v2.0', `/artifacts/ExperimentRun/dcid.${runId}`) },
    { name: 'artifact contentinfo', shape: 'dataPlane', url: () => dataPlaneUrl(service, 'artifact/v2.0', `/artifacts/ExperimentRun/dcid.${runId}/contentinfo?path=${log}`) },
    { name: 'artifact content', shape: 'dataPlane', url: () => dataPlaneUrl(service, 'artifact/v2.0', `/artifacts/ExperimentRun/dcid.${runId}/content?path=${log}`) }
  ]
  const expected: Record<string, string> = {
    'no token': 'AuthenticationFailed',
    expired: 'ExpiredAuthenticationToken',
    'wrong audience': 'InvalidAuthenticationTokenAudience',
    'forged signature': 'InvalidAuthenticationToken'
  }
  const call = (route: (typeof routes)[number], token: string | undefined): Promise<Response> =>
    fetch(route.url(), { method: route.method ?? 'GET', headers: token ? { Authorization: `Bearer ${token}` } : {}, body: route.body?.() })

  for (const route of routes) {
    it(`${route.name}: 401 in the service's error shape without a valid token, answered with one`, async () => {
      const starts = () => service.requests.filter(r => r.path.endsWith('/startrun') && r.status === 200).length
      const startsBefore = starts()
      for (const [credential, code] of Object.entries(expected)) {
        const res = await call(route, bad[credential])
        const text = await res.text()
        assert.equal(res.status, 401, `${credential}: ${text}`)
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer authorization_uri="/, credential)
        const body = JSON.parse(text) as { error: { code: string; message: string }; correlation?: unknown; time?: string }
        assert.equal(body.error.code, code, credential)
        if (route.shape === 'arm') assert.deepEqual(Object.keys(body), ['error'], `${credential}: ARM's error shape`)
        else assert.ok(body.correlation && body.time, `${credential}: the data plane's ErrorResponse shape`)
      }
      assert.equal(starts(), startsBefore, 'no run was started without a valid token')
      // The same request with the valid token is answered: the 401s were about the token alone.
      const ok = await call(route, good)
      assert.ok(ok.status >= 200 && ok.status < 300, `${route.name} with a valid token: HTTP ${ok.status} ${await ok.text()}`)
    })
  }

  describe('the studio run page (the run-url link)', () => {
    const studio = (): string => `${service.url}/studio/runs/${runId}?wsid=${encodeURIComponent(`/subscriptions/${service.identity.subscriptionId}/resourcegroups/local-rg/workspaces/local-ws`)}`
    const showsRun = (html: string): boolean => [runId, 'auth-exp', 'hello', 'Completed'].some(t => html.includes(t))

    it('without a valid token: 401 with the sign-in page and nothing of the run; with one: the run', async () => {
      for (const credential of Object.keys(expected)) {
        const res = await fetch(studio(), { headers: bad[credential] ? { Authorization: `Bearer ${bad[credential]}` } : {} })
        const html = await res.text()
        assert.equal(res.status, 401, credential)
        assert.match(res.headers.get('content-type') ?? '', /^text\/html/)
        assert.match(html, /<form method="post" action="\/studio\/signin">/)
        assert.ok(!showsRun(html.replace(/name="return" value="[^"]*"/, '')), `${credential}: the sign-in page shows nothing of the run`)
      }
      const missing = await fetch(`${service.url}/studio/runs/no_such_run`)
      assert.equal(missing.status, 401, 'not even whether a run exists')
      const ok = await fetch(studio(), { headers: { Authorization: `Bearer ${good}` } })
      assert.equal(ok.status, 200)
      const html = await ok.text()
      for (const text of [runId, 'Completed', 'auth-exp', 'hello']) assert.ok(html.includes(text), text)
      const noRole = await fetch(studio(), { headers: { Authorization: `Bearer ${await getToken(service, service.identity.noRole)}` } })
      assert.equal(noRole.status, 403)
      assert.ok(!showsRun((await noRole.text()).replace(/over scope '[^']*'/, '')), 'a principal without a role sees nothing of the run')
    })

    it('a browser signs in with a service principal: an HttpOnly cookie, back to the run', async () => {
      const here = new URL(studio())
      const signIn = (fields: Record<string, string>): Promise<Response> => fetch(`${service.url}/studio/signin`, { ...form(fields), redirect: 'manual' })
      const wrong = await signIn({ client_id: service.identity.clientId, client_secret: 'wrong', return: `${here.pathname}${here.search}` })
      assert.equal(wrong.status, 401)
      assert.equal(wrong.headers.get('set-cookie'), null)
      const right = await signIn({ client_id: service.identity.clientId, client_secret: service.identity.clientSecret, return: `${here.pathname}${here.search}` })
      assert.equal(right.status, 303)
      assert.equal(right.headers.get('location'), `${here.pathname}${here.search}`)
      const cookie = right.headers.get('set-cookie') ?? ''
      assert.match(cookie, /^azureml_studio_token=[\w-]+\.[\w-]+\.[\w-]+; Path=\/studio; Max-Age=3599; HttpOnly; SameSite=Strict$/)
      const page = await fetch(studio(), { headers: { Cookie: cookie.split(';')[0] } })
      assert.equal(page.status, 200)
      assert.ok((await page.text()).includes('auth-exp'))
      // Only back to a studio page of this service.
      const elsewhere = await signIn({ client_id: service.identity.clientId, client_secret: service.identity.clientSecret, return: 'https://evil.example/' })
      assert.equal(elsewhere.status, 200)
      assert.equal(elsewhere.headers.get('location'), null)
    })
  })
})
