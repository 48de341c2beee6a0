/**
 * On a pull request, train posts its results as a comment — one per experiment, updated by later pushes —
 * through GitHub's REST API (here the local service's stand-in at GITHUB_API_URL).
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { runAgainst, tempWorkspace } from '../helpers/e2e.js'

let emulator: Emulator
let ws: ReturnType<typeof tempWorkspace>
before(async () => {
  emulator = await startEmulator({ port: 0, runPhaseDelayMs: 50 })
  ws = tempWorkspace({ 'train.py': 'from azureml.core import Run\nRun.get_context().log("accuracy", 0.875)\n' })
  writeFileSync(path.join(ws.root, 'event.json'), JSON.stringify({ pull_request: { number: 7, head: { ref: 'feature' } }, number: 7 }))
})
after(async () => {
  ws.cleanup()
  await emulator.close()
})

function trainOnPullRequest(experiment: string, extra: Record<string, string> = {}) {
  return runAgainst(
    emulator,
    { 'experiment-name': experiment, script: 'train.py', 'compute-target': 'cpu-cluster', 'github-token': emulator.github.api.token, ...extra },
    {
      workspace: ws.root,
      env: { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: path.join(ws.root, 'event.json'), GITHUB_API_URL: emulator.github.apiUrl, GITHUB_REF: 'refs/pull/7/merge' },
      secrets: [emulator.github.api.token]
    }
  )
}

describe('pull request comment (bundled action)', () => {
  it('comments once per experiment and updates the comment on the next run', async () => {
    const first = await trainOnPullRequest('e2e-pr')
    assert.equal(first.code, 0, first.stdout)
    let comments = emulator.github.api.list('octo-org/ml-repo', 7)
    assert.equal(comments.length, 1)
    assert.match(comments[0].body, new RegExp(`Azure ML run ${first.outputs['run-id']}`))
    assert.match(comments[0].body, /\| accuracy \| 0\.875 \|/)
    const second = await trainOnPullRequest('e2e-pr')
    comments = emulator.github.api.list('octo-org/ml-repo', 7)
    assert.equal(comments.length, 1, 'the same comment is updated')
    assert.match(comments[0].body, new RegExp(second.outputs['run-id']))
    await trainOnPullRequest('e2e-pr-other')
    assert.equal(emulator.github.api.list('octo-org/ml-repo', 7).length, 2, 'another experiment gets its own comment')
  })

  it('without write permission it warns and the step still succeeds', async () => {
    emulator.github.api.permission = 'read'
    try {
      const run = await trainOnPullRequest('e2e-pr-readonly')
      assert.equal(run.code, 0, run.stdout)
      assert.match(run.stdout, /::warning::Could not comment on the pull request \(HTTP 403: Resource not accessible by integration.*\)\. Give the job `permissions: pull-requests: write`/)
    } finally {
      emulator.github.api.permission = 'write'
    }
  })

  it('comment-on-pr: false posts nothing', async () => {
    const before = emulator.github.api.list('octo-org/ml-repo', 7).length
    const run = await trainOnPullRequest('e2e-pr-silent', { 'comment-on-pr': 'false' })
    assert.equal(run.code, 0, run.stdout)
    assert.equal(emulator.github.api.list('octo-org/ml-repo', 7).length, before)
  })
})
