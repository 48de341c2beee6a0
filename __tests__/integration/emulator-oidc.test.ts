/**
 * The local service's stand-in for GitHub's OIDC provider and its Azure AD's workload identity federation,
 * on the wire (plain fetch, not the action's clients): the ID-token request a runner makes, the issuer's
 * published keys (checked with node:crypto, independently of the service), and the token endpoint's checks of a
 * client assertion against the app's federated credentials, each failure with Azure AD's code.
 */
import assert from 'node:assert/strict'
import { createPublicKey, verify } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator, type OidcJob } from '../../emulator/index.js'
import { workspacePath } from '../helpers/emulator-client.js'

let emulator: Emulator
before(async () => {
  emulator = await startEmulator({ port: 0 })
})
after(() => emulator.close())

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** What core.getIDToken(audience) does: GET the request URL (+ &audience=) with the request token. */
async function idToken(job: OidcJob, audience?: string, token = job.requestToken): Promise<Response> {
  return fetch(`${job.requestUrl}${audience === undefined ? '' : `&audience=${encodeURIComponent(audience)}`}`, { headers: { Authorization: `Bearer ${token}` } })
}

async function idTokenValue(job: OidcJob, audience = 'api://AzureADTokenExchange'): Promise<string> {
  const res = await idToken(job, audience)
  assert.equal(res.status, 200, await res.clone().text())
  return ((await res.json()) as { value: string }).value
}

function decode(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [h, c] = token.split('.')
  return { header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>, claims: JSON.parse(Buffer.from(c, 'base64url').toString()) as Record<string, unknown> }
}

async function exchange(assertion: string, extra: Record<string, string> = {}, clientId: string = emulator.identity.clientId): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${emulator.url}/${emulator.identity.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, scope: 'https://management.azure.com/.default', client_assertion_type: JWT_BEARER, client_assertion: assertion, ...extra })
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

function assertAadError(answer: { status: number; body: Record<string, unknown> }, status: number, error: string, code: number, text: RegExp): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body))
  assert.equal(answer.body.error, error)
  assert.deepEqual(answer.body.error_codes, [code])
  assert.match(String(answer.body.error_description), new RegExp(`^AADSTS${code}: ${text.source}`))
}

describe('GitHub OIDC stand-in', () => {
  it('issues RS256 ID tokens a runner asks for, with GitHub\'s claims, verifiable with the published JWKS', async () => {
    const job = emulator.oidc.demoJob
    assert.match(job.requestUrl, /\/_apis\/distributedtask\/hubs\/Actions\/plans\/[0-9a-f-]{36}\/jobs\/[0-9a-f-]{36}\/idtoken\?api-version=2\.0$/)
    const token = await idTokenValue(job)
    const { header, claims } = decode(token)
    assert.equal(header.alg, 'RS256')
    assert.deepEqual(
      { iss: claims.iss, sub: claims.sub, aud: claims.aud, repository: claims.repository, ref: claims.ref, event_name: claims.event_name, job_workflow_ref: claims.job_workflow_ref },
      {
        iss: 'https://token.actions.githubusercontent.com',
        sub: 'repo:octo-org/ml-repo:ref:refs/heads/main',
        aud: 'api://AzureADTokenExchange',
        repository: 'octo-org/ml-repo',
        ref: 'refs/heads/main',
        event_name: 'push',
        job_workflow_ref: 'octo-org/ml-repo/.github/workflows/train.yml@refs/heads/main'
      }
    )
    assert.equal((claims.exp as number) - (claims.iat as number), 300, 'five minutes, as GitHub\'s')

    const config = (await (await fetch(`${emulator.url}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string }
    assert.equal(config.issuer, 'https://token.actions.githubusercontent.com')
    const jwks = (await (await fetch(config.jwks_uri)).json()) as { keys: Array<Record<string, string>> }
    const jwk = jwks.keys.find(k => k.kid === header.kid)
    assert.ok(jwk, 'the token names a published key')
    const [h, c, sig] = token.split('.')
    assert.ok(verify('sha256', Buffer.from(`${h}.${c}`), createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' }), Buffer.from(sig, 'base64url')))
  })

  it('gives each kind of job GitHub\'s subject: environment, pull request, tag; the owner as default audience', async () => {
    const subjectOf = async (job: OidcJob) => decode(await idTokenValue(job)).claims.sub
    assert.equal(await subjectOf(emulator.oidc.job({ repository: 'o/r', environment: 'prod' })), 'repo:o/r:environment:prod')
    assert.equal(await subjectOf(emulator.oidc.job({ repository: 'o/r', eventName: 'pull_request', ref: 'refs/pull/1/merge' })), 'repo:o/r:pull_request')
    assert.equal(await subjectOf(emulator.oidc.job({ repository: 'o/r', ref: 'refs/tags/v1.2' })), 'repo:o/r:ref:refs/tags/v1.2')
    const res = await idToken(emulator.oidc.job({ repository: 'o/r' }))
    assert.equal(decode(((await res.json()) as { value: string }).value).claims.aud, 'https://github.com/o')
  })

  it('refuses a request without the job\'s request token (a job without id-token: write), or without api-version', async () => {
    const job = emulator.oidc.demoJob
    const wrong = await idToken(job, 'api://AzureADTokenExchange', 'not-the-token')
    assert.equal(wrong.status, 401)
    const other = await idToken(job, 'api://AzureADTokenExchange', emulator.oidc.job({ repository: 'o/r' }).requestToken)
    assert.equal(other.status, 401, "another job's token")
    const noVersion = await fetch(job.requestUrl.replace(/\?api-version=2\.0$/, ''), { headers: { Authorization: `Bearer ${job.requestToken}` } })
    assert.equal(noVersion.status, 400)
  })
})

describe('Azure AD: federated credentials', () => {
  it('exchanges a trusted ID token for an access token that opens ARM', async () => {
    const answer = await exchange(await idTokenValue(emulator.oidc.demoJob))
    assert.equal(answer.status, 200, JSON.stringify(answer.body))
    const res = await fetch(`${emulator.url}${workspacePath(emulator)}?api-version=2019-11-01`, { headers: { Authorization: `Bearer ${String(answer.body.access_token)}` } })
    assert.equal(res.status, 200)
    assert.equal(emulator.requests.at(-2)?.clientCredential, 'client_assertion')
  })

  it('refuses a subject, audience or issuer no federated credential names, each with its AADSTS code', async () => {
    const pr = emulator.oidc.job({ repository: 'octo-org/ml-repo', eventName: 'pull_request', ref: 'refs/pull/9/merge' })
    assertAadError(await exchange(await idTokenValue(pr)), 400, 'invalid_client', 700213, /No matching federated identity record found for presented assertion subject 'repo:octo-org\/ml-repo:pull_request'\./)
    assertAadError(await exchange(await idTokenValue(emulator.oidc.demoJob, 'api://SomethingElse')), 400, 'invalid_client', 700212, /No matching federated identity record found for presented assertion audience 'api:\/\/SomethingElse'\./)

    emulator.oidc.addFederatedCredential({ name: 'other-idp', subject: 'system:serviceaccount:ml:trainer', issuer: 'https://oidc.example.com' }, emulator.identity.noRole.clientId)
    const otherApp = await exchange(await idTokenValue(emulator.oidc.demoJob), {}, emulator.identity.noRole.clientId)
    assertAadError(otherApp, 400, 'invalid_client', 700211, /No matching federated identity record found for presented assertion issuer 'https:\/\/token\.actions\.githubusercontent\.com'\./)
  })

  it('an app without federated credentials answers AADSTS70021 naming issuer, subject and audience', async () => {
    const bare = await startEmulator({ port: 0 })
    try {
      const res = await fetch(`${bare.oidc.demoJob.requestUrl}&audience=api://AzureADTokenExchange`, { headers: { Authorization: `Bearer ${bare.oidc.demoJob.requestToken}` } })
      const token = ((await res.json()) as { value: string }).value
      const answer = await fetch(`${bare.url}/${bare.identity.tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: bare.identity.noRole.clientId, scope: 'https://management.azure.com/.default', client_assertion_type: JWT_BEARER, client_assertion: token })
      })
      const body = (await answer.json()) as Record<string, unknown>
      assert.deepEqual(body.error_codes, [70021])
      assert.match(String(body.error_description), /Assertion Issuer: 'https:\/\/token\.actions\.githubusercontent\.com'\. Assertion Subject: 'repo:octo-org\/ml-repo:ref:refs\/heads\/main'\. Assertion Audience: 'api:\/\/AzureADTokenExchange'\./)
    } finally {
      await bare.close()
    }
  })

  it('refuses an expired ID token (AADSTS700024), a forged signature (AADSTS700027) and a malformed one (AADSTS50027)', async () => {
    const short = await startEmulator({ port: 0, idTokenLifetimeSeconds: 1 })
    try {
      const res = await fetch(`${short.oidc.demoJob.requestUrl}&audience=api://AzureADTokenExchange`, { headers: { Authorization: `Bearer ${short.oidc.demoJob.requestToken}` } })
      const token = ((await res.json()) as { value: string }).value
      await new Promise(resolve => setTimeout(resolve, 1100))
      const answer = await fetch(`${short.url}/${short.identity.tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: short.identity.clientId, scope: 'https://management.azure.com/.default', client_assertion_type: JWT_BEARER, client_assertion: token })
      })
      const body = (await answer.json()) as Record<string, unknown>
      assert.deepEqual(body.error_codes, [700024])
      assert.match(String(body.error_description), /Client assertion is not within its valid time range\. Current time: \S+, assertion valid from \S+, expiry time of assertion \S+\./)
    } finally {
      await short.close()
    }

    const token = await idTokenValue(emulator.oidc.demoJob)
    const [h, c] = token.split('.')
    // The claims of a trusted job with another signature: as if signed by a key GitHub does not publish.
    const forged = `${h}.${c}.${Buffer.from('not the signature of these claims').toString('base64url')}`
    assertAadError(await exchange(forged), 401, 'invalid_client', 700027, /Client assertion failed signature validation\./)
    // A pull request's token with its subject changed to the trusted branch's: the signature no longer fits.
    const pr = await idTokenValue(emulator.oidc.job({ repository: 'octo-org/ml-repo', eventName: 'pull_request', ref: 'refs/pull/5/merge' }))
    const [prHeader, prClaims, prSignature] = pr.split('.')
    const swapped = Buffer.from(JSON.stringify({ ...decode(pr).claims, sub: 'repo:octo-org/ml-repo:ref:refs/heads/main' })).toString('base64url')
    assert.notEqual(swapped, prClaims)
    assertAadError(await exchange(`${prHeader}.${swapped}.${prSignature}`), 401, 'invalid_client', 700027, /Client assertion failed signature validation\./)
    assertAadError(await exchange('not-a-jwt'), 400, 'invalid_client', 50027, /JWT token is invalid or malformed\./)
  })

  it('refuses a wrong assertion type, or a secret and an assertion together', async () => {
    const token = await idTokenValue(emulator.oidc.demoJob)
    assertAadError(await exchange(token, { client_assertion_type: 'urn:other' }), 400, 'invalid_request', 50027, /Invalid client_assertion_type 'urn:other'/)
    assertAadError(await exchange(token, { client_secret: emulator.identity.clientSecret }), 400, 'invalid_request', 700025, /Only one client credential may be presented/)
  })
})

describe('control API: GitHub jobs and federated credentials', () => {
  it('registers a job and a federated credential over HTTP, and the job then signs in', async () => {
    const created = await fetch(`${emulator.url}/_emulator/github/jobs`, { method: 'POST', body: JSON.stringify({ repository: 'contoso/models', environment: 'staging' }) })
    assert.equal(created.status, 201)
    const job = (await created.json()) as OidcJob
    assert.equal(job.subject, 'repo:contoso/models:environment:staging')
    assert.equal(job.env.ACTIONS_ID_TOKEN_REQUEST_URL, job.requestUrl)

    const bad = await fetch(`${emulator.url}/_emulator/federated-credentials`, { method: 'POST', body: JSON.stringify({ name: 'x' }) })
    assert.equal(bad.status, 400)
    const added = await fetch(`${emulator.url}/_emulator/federated-credentials`, { method: 'POST', body: JSON.stringify({ name: 'staging', subject: job.subject }) })
    assert.equal(added.status, 201)
    const list = (await (await fetch(`${emulator.url}/_emulator/federated-credentials`)).json()) as { value: Array<{ name: string; issuer: string; audiences: string[] }> }
    assert.deepEqual(list.value.find(c => c.name === 'staging'), { name: 'staging', issuer: 'https://token.actions.githubusercontent.com', subject: job.subject, audiences: ['api://AzureADTokenExchange'] })
    assert.equal((await exchange(await idTokenValue(job))).status, 200)
  })
})
