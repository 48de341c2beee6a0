/**
 * Signing in with GitHub OIDC (workload identity federation) through the bundled action: no client secret,
 * the runner's ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN, and the local Azure AD checking each ID token against the
 * app's federated credentials (issuer, subject, audience, signature, lifetime) as Azure AD does.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Emulator } from '../../emulator/index.js'
import { emulatorsFor, errorText, runAgainst, tempWorkspace } from '../helpers/e2e.js'

let ws: { root: string; cleanup(): void }
before(() => {
  ws = tempWorkspace({ 'train.py': 'import sys, time\nprint("training", flush=True)\ntime.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)\nprint("done")\n' })
})
const emulators = emulatorsFor({ runPhaseDelayMs: 50 })
after(async () => {
  await emulators.closeAll()
  ws.cleanup()
})
const service = emulators.start

/** The inputs of a workflow step that signs in with OIDC: the app and tenant ids, no secret anywhere. */
function oidcInputs(emulator: Emulator, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'azure-credentials': '',
    'tenant-id': emulator.identity.tenantId,
    'client-id': emulator.identity.clientId,
    'subscription-id': emulator.identity.subscriptionId,
    'authority-host': emulator.url,
    'resource-manager-endpoint': emulator.url,
    ...extra
  }
}

type Request = Emulator['requests'][number]
const isToken = (r: Request) => r.method === 'POST' && r.path.endsWith('/oauth2/v2.0/token')
const isIdToken = (r: Request) => r.path.endsWith('/idtoken')
const TRAIN = { 'experiment-name': 'oidc', script: 'train.py', 'compute-target': 'cpu-cluster' }

describe('OIDC sign-in (bundled action)', { concurrency: true }, () => {
  it('trains with no client secret: a GitHub ID token is exchanged for the Azure AD token', async () => {
    const emulator = await service()
    const job = emulator.oidc.demoJob
    const run = await runAgainst(emulator, { ...TRAIN, ...oidcInputs(emulator) }, { workspace: ws.root, env: job.env, secrets: [job.requestToken] })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.equal(run.outputs['run-status'], 'Completed')
    const tokens = run.requests.filter(isToken)
    assert.ok(tokens.length >= 1)
    assert.deepEqual([...new Set(tokens.map(r => r.clientCredential))], ['client_assertion'], 'every sign-in used the GitHub token, none a secret')
    const idTokens = run.requests.filter(isIdToken)
    assert.equal(idTokens.length, tokens.length, 'one fresh GitHub ID token per Azure AD token')
    assert.equal(new URLSearchParams(idTokens[0].query).get('audience'), 'api://AzureADTokenExchange', 'the default audience of the public cloud')
    assert.ok(run.requests.some(r => r.path.endsWith('/startrun') && r.authenticatedAs === emulator.identity.clientId), 'the exchanged token opens the data plane')
  })

  it('a run outlasting many GitHub ID tokens completes: every Azure AD refresh mints a fresh ID token', async () => {
    // ID tokens live 2 s and Azure AD tokens 3 s: a reused ID token would be refused (AADSTS700024) at the first refresh.
    const emulator = await service({ tokenLifetimeSeconds: 3, idTokenLifetimeSeconds: 2 })
    const job = emulator.oidc.demoJob
    const run = await runAgainst(emulator, { ...TRAIN, ...oidcInputs(emulator), arguments: '7' }, { workspace: ws.root, env: job.env, secrets: [job.requestToken] })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.equal(run.outputs['run-status'], 'Completed')
    const tokens = run.requests.filter(isToken)
    assert.ok(tokens.length >= 3, `${tokens.length} Azure AD tokens over a 7 s run of 3 s tokens`)
    assert.ok(tokens.every(r => r.status === 200), 'no assertion was refused')
    assert.equal(run.requests.filter(isIdToken).length, tokens.length)
    assert.equal(emulator.oidc.issuedCount, tokens.length)
  })

  it('a subject the federated credential does not name fails with AADSTS700213, a hint, and (on debug) the claims — never the token', async () => {
    const emulator = await service()
    const job = emulator.oidc.job({ repository: 'octo-org/ml-repo', ref: 'refs/pull/7/merge', eventName: 'pull_request' })
    const run = await runAgainst(
      emulator,
      { ...TRAIN, ...oidcInputs(emulator) },
      { workspace: ws.root, env: { ...job.env, ACTIONS_STEP_DEBUG: 'true', RUNNER_DEBUG: '1' }, secrets: [job.requestToken] }
    )
    assert.equal(run.code, 1)
    assert.equal(run.errors.length, 1)
    const error = errorText(run)
    assert.match(error, /AADSTS700213/)
    assert.match(error, /subject 'repo:octo-org\/ml-repo:pull_request'/)
    assert.match(error, /Hint: .*subject .*federated credential/)
    assert.match(run.stdout, /^::debug::GitHub OIDC token claims .*iss="https:\/\/token\.actions\.githubusercontent\.com", sub="repo:octo-org\/ml-repo:pull_request", aud="api:\/\/AzureADTokenExchange", job_workflow_ref="octo-org\/ml-repo\/\.github\/workflows\/train\.yml@refs\/pull\/7\/merge"/m)
    assert.ok(!run.requests.some(r => r.path.endsWith('/startrun')), 'nothing was started')
    // runAgainst scanned everything written for JWTs: the ID token was never printed.
  })

  it('a federated credential for an environment signs in the job of that environment', async () => {
    const emulator = await service()
    emulator.oidc.addFederatedCredential({ name: 'production', subject: 'repo:octo-org/ml-repo:environment:production' })
    const job = emulator.oidc.job({ repository: 'octo-org/ml-repo', environment: 'production', eventName: 'workflow_dispatch' })
    const run = await runAgainst(emulator, { ...oidcInputs(emulator), operation: 'list', resource: 'computes' }, { env: job.env, secrets: [job.requestToken] })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.deepEqual((JSON.parse(run.outputs.result) as Array<{ name: string }>).map(c => c.name), ['cpu-cluster'])
  })

  it('oidc-audience asks for the audience the federated credential names; the wrong one is AADSTS700212 with a hint to set it', async () => {
    const emulator = await service()
    const subject = 'repo:octo-org/other-repo:ref:refs/heads/main'
    emulator.oidc.addFederatedCredential({ name: 'custom-audience', subject, audiences: ['api://contoso-ml-ci'] })
    const job = emulator.oidc.job({ repository: 'octo-org/other-repo' })
    const list = { ...oidcInputs(emulator), operation: 'list', resource: 'experiments' }
    const right = await runAgainst(emulator, { ...list, 'oidc-audience': 'api://contoso-ml-ci' }, { env: job.env, secrets: [job.requestToken] })
    assert.equal(right.code, 0, right.stdout + right.stderr)
    assert.equal(new URLSearchParams(right.requests.find(isIdToken)!.query).get('audience'), 'api://contoso-ml-ci')

    const wrong = await runAgainst(emulator, list, { env: job.env, secrets: [job.requestToken] })
    assert.equal(wrong.code, 1)
    assert.match(errorText(wrong), /AADSTS700212.*audience 'api:\/\/AzureADTokenExchange'/)
    assert.match(errorText(wrong), /Hint: .*`oidc-audience`/)
  })

  it('when GitHub refuses the ID token (no id-token: write), the error says which permission to add; nothing reaches Azure', async () => {
    const emulator = await service()
    const env = { ...emulator.oidc.demoJob.env, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'not-the-job-token' }
    const run = await runAgainst(emulator, { ...TRAIN, ...oidcInputs(emulator) }, { workspace: ws.root, env })
    assert.equal(run.code, 1)
    assert.equal(run.errors.length, 1)
    assert.match(errorText(run), /^getting a GitHub OIDC token \(audience 'api:\/\/AzureADTokenExchange'\): .*401/)
    assert.match(errorText(run), /Hint: .*permissions: id-token: write.*forks and by Dependabot/)
    assert.doesNotMatch(errorText(run), /Unexpected error/)
    assert.deepEqual(run.requests.filter(r => !isIdToken(r)), [], 'no request to Azure AD or Azure')
  })

  it('an ID token signed by another issuer, or expired, is refused by Azure AD with its codes (AADSTS700211, AADSTS700024)', async () => {
    const emulator = await service({ idTokenLifetimeSeconds: 1 })
    // The app without a role trusts only another issuer.
    emulator.oidc.addFederatedCredential({ name: 'gitlab', subject: 'project_path:group/repo:ref_type:branch:ref:main', issuer: 'https://gitlab.example.com' }, emulator.identity.noRole.clientId)
    const job = emulator.oidc.demoJob
    const list = { operation: 'list', resource: 'experiments' }
    const otherIssuer = await runAgainst(emulator, { ...oidcInputs(emulator, { 'client-id': emulator.identity.noRole.clientId }), ...list }, { env: job.env, secrets: [job.requestToken] })
    assert.equal(otherIssuer.code, 1)
    assert.match(errorText(otherIssuer), /invalid_client \(AADSTS700211\): No matching federated identity record found for presented assertion issuer 'https:\/\/token\.actions\.githubusercontent\.com'/)
    assert.match(errorText(otherIssuer), /Hint: .*issuer https:\/\/token\.actions\.githubusercontent\.com/)

    // A token that expires before Azure AD sees it: the local service delays the token request past its 1 s life.
    emulator.faults.add({ method: 'POST', path: '/oauth2/v2.0/token$', kind: 'delay', delayMs: 1500, times: 1 })
    const expired = await runAgainst(emulator, { ...oidcInputs(emulator), ...list }, { env: job.env, secrets: [job.requestToken] })
    assert.equal(expired.code, 1)
    assert.match(errorText(expired), /invalid_client \(AADSTS700024\): Client assertion is not within its valid time range/)
  })
})
