import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { describeClaims, federatedAssertion } from '../../src/auth/github-oidc.js'
import { ActionError, InputError } from '../../src/errors.js'
import { parseSettings, type TrainSettings } from '../../src/inputs.js'
import { MemoryLogger } from '../../src/logger.js'
import { normalizeProxyVariables } from '../../src/proxy.js'

const jwt = (claims: Record<string, unknown>) => `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`

describe('OIDC sign-in', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'oidc-inputs-'))
  const base: Record<string, string> = {
    operation: 'list',
    resource: 'experiments',
    'tenant-id': '11111111-1111-4111-8111-111111111111',
    'client-id': '22222222-2222-4222-8222-222222222222',
    'subscription-id': '33333333-3333-4333-8333-333333333333',
    'resource-group': 'rg',
    'workspace-name': 'ws1'
  }
  const oidcEnv = { ACTIONS_ID_TOKEN_REQUEST_URL: 'https://pipelines.actions.githubusercontent.com/x?api-version=2.0', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 't' }
  const parse = (inputs: Record<string, string>, env: Record<string, string> = oidcEnv) =>
    parseSettings(name => ({ ...base, ...inputs })[name] ?? '', { workspaceRoot: root, mask: () => undefined, env }) as unknown as TrainSettings

  it('without a client secret uses the GitHub ID token, with the audience of the cloud', () => {
    assert.deepEqual(parse({}).azure.principal, { kind: 'oidc', tenantId: base['tenant-id'], clientId: base['client-id'], audience: 'api://AzureADTokenExchange' })
    const gov = parse({ cloud: 'AzureUSGovernment' }).azure
    assert.equal(gov.principal.kind === 'oidc' && gov.principal.audience, 'api://AzureADTokenExchangeUSGov')
    const china = parse({ cloud: 'azurechinacloud' }).azure
    assert.equal(china.principal.kind === 'oidc' && china.principal.audience, 'api://AzureADTokenExchangeChina')
    const custom = parse({ 'oidc-audience': 'api://my-audience' }).azure
    assert.equal(custom.principal.kind === 'oidc' && custom.principal.audience, 'api://my-audience')
  })

  it('without a secret and without id-token permission says what to add', () => {
    assert.throws(
      () => parse({}, {}),
      (e: unknown) => e instanceof InputError && e.input === 'client-secret' && /permissions: id-token: write/.test(e.message) && /forks and Dependabot/.test(e.message)
    )
  })

  it('asks GitHub for a fresh ID token for every Azure AD token, and shows its claims (never the token) on debug', async () => {
    const logger = new MemoryLogger(true)
    let minted = 0
    const tokens: string[] = []
    const assertion = federatedAssertion(
      async audience => {
        const token = jwt({ iss: 'https://token.actions.githubusercontent.com', sub: 'repo:o/r:ref:refs/heads/main', aud: audience, job_workflow_ref: 'o/r/.github/workflows/t.yml@refs/heads/main', n: ++minted })
        tokens.push(token)
        return token
      },
      'api://AzureADTokenExchange',
      logger
    )
    const first = await assertion()
    const second = await assertion()
    assert.ok('assertion' in first && 'assertion' in second && first.assertion !== second.assertion, 'a new GitHub token each time')
    assert.deepEqual(logger.masked, tokens, 'every GitHub token is masked')
    const debug = logger.lines.filter(l => l.startsWith('debug:'))
    assert.equal(debug.length, 1)
    assert.match(debug[0], /iss="https:\/\/token\.actions\.githubusercontent\.com", sub="repo:o\/r:ref:refs\/heads\/main", aud="api:\/\/AzureADTokenExchange", job_workflow_ref=/)
    assert.ok(!debug[0].includes(tokens[0]))
    assert.equal(describeClaims('not a jwt'), '(the token could not be decoded)')
  })

  it('turns a refused ID token request into an error naming the audience and the permission to add', async () => {
    const refused = federatedAssertion(
      async () => {
        throw new Error('Error message: Failed to get ID Token. \n \n        Error Code : 403\n \n        Error Message: Forbidden')
      },
      'api://AzureADTokenExchange',
      new MemoryLogger()
    )
    await assert.rejects(refused(), (e: unknown) => {
      assert.ok(e instanceof ActionError)
      assert.match(e.message, /^getting a GitHub OIDC token \(audience 'api:\/\/AzureADTokenExchange'\): Failed to get ID Token\. Error Code : 403 Error Message: Forbidden$/)
      assert.match(e.hint ?? '', /permissions: id-token: write/)
      return true
    })
    const unreachable = federatedAssertion(async () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' })), 'aud', new MemoryLogger())
    await assert.rejects(unreachable(), (e: unknown) => e instanceof ActionError && /HTTPS_PROXY/.test(e.hint ?? ''))
    const empty = federatedAssertion(async () => '', 'aud', new MemoryLogger())
    await assert.rejects(empty(), (e: unknown) => e instanceof ActionError && /no ID token/.test(e.message))
  })
})

describe('proxy variables', () => {
  it('gives a proxy without a scheme http://, keeps others, and masks proxy passwords', () => {
    const env: Record<string, string | undefined> = {
      HTTPS_PROXY: 'proxy.corp:8080',
      https_proxy: 'http://user:p%40ss@proxy.corp:3128',
      HTTP_PROXY: 'https://secure-proxy:443',
      http_proxy: ''
    }
    const logger = new MemoryLogger(true)
    normalizeProxyVariables(env, logger)
    assert.equal(env.HTTPS_PROXY, 'http://proxy.corp:8080')
    assert.equal(env.https_proxy, 'http://user:p%40ss@proxy.corp:3128')
    assert.equal(env.HTTP_PROXY, 'https://secure-proxy:443')
    assert.deepEqual(logger.masked, ['p%40ss', 'p@ss'], 'as written in the URL and decoded')
    assert.ok(logger.lines.some(l => /HTTPS_PROXY: requests go through http:\/\/proxy\.corp:8080 \(http:\/\/ added/.test(l)))
    assert.ok(!logger.text().includes('p@ss') && !logger.text().includes('p%40ss'))
  })

  it('adds loopback to NO_PROXY when a proxy is set, so the Storage SDK leaves local storage alone as http-client does', () => {
    const env: Record<string, string | undefined> = { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'internal.corp, .example.com' }
    normalizeProxyVariables(env, new MemoryLogger())
    assert.equal(env.NO_PROXY, 'internal.corp,.example.com,localhost,127.0.0.1,[::1]')
    assert.equal(env.no_proxy, undefined)
    const lower: Record<string, string | undefined> = { https_proxy: 'proxy:3128', no_proxy: 'LOCALHOST' }
    normalizeProxyVariables(lower, new MemoryLogger())
    assert.equal(lower.no_proxy, 'LOCALHOST,127.0.0.1,[::1]')
    assert.equal(lower.NO_PROXY, 'localhost,127.0.0.1,[::1]')
    const none: Record<string, string | undefined> = { NO_PROXY: 'x' }
    normalizeProxyVariables(none, new MemoryLogger())
    assert.deepEqual(none, { NO_PROXY: 'x' }, 'without a proxy nothing changes')
  })
})
