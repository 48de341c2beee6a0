import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseTokenResponse } from '../../src/auth/azure-ad.js'
import { CachedCredential } from '../../src/auth/cached-credential.js'
import { MemoryLogger } from '../../src/logger.js'

describe('token cache', () => {
  it('reuses a token until shortly before it expires, then gets a new one', async () => {
    let clock = 0
    let issued = 0
    const logger = new MemoryLogger()
    const credential = new CachedCredential(async () => ({ token: `t${++issued}`, expiresOnMs: clock + 3600_000 }), logger, () => clock)
    assert.equal(await credential.getToken(), 't1')
    clock = 3600_000 - 5 * 60_000 - 1
    assert.equal(await credential.getToken(), 't1', 'still more than 5 minutes left')
    clock += 2
    assert.equal(await credential.getToken(), 't2', 'refreshed 5 minutes before expiry')
    assert.deepEqual(logger.masked, ['t1', 't2'], 'every token is masked')
  })

  it('refreshes short-lived tokens a quarter of their lifetime early, and on demand', async () => {
    let clock = 0
    let issued = 0
    const credential = new CachedCredential(async () => ({ token: `t${++issued}`, expiresOnMs: clock + 4000 }), new MemoryLogger(), () => clock)
    await credential.getToken()
    clock = 2999
    assert.equal(await credential.getToken(), 't1')
    clock = 3001
    assert.equal(await credential.getToken(), 't2')
    assert.equal(await credential.getToken({ forceRefresh: true }), 't3')
  })

  it('a failed early refresh keeps the current token until it expires, and tries again later', async () => {
    let clock = 0
    let issued = 0
    let failing = false
    const attempts: number[] = []
    const logger = new MemoryLogger()
    const credential = new CachedCredential(
      async () => {
        attempts.push(clock)
        if (failing) throw new Error('getting an Azure AD token: no answer from login.microsoftonline.com (ECONNREFUSED)')
        return { token: `t${++issued}`, expiresOnMs: clock + 3600_000 }
      },
      logger,
      () => clock
    )
    assert.equal(await credential.getToken(), 't1')
    failing = true
    clock = 3600_000 - 5 * 60_000
    assert.equal(await credential.getToken(), 't1', 'the refresh failed; the token is valid 5 more minutes')
    assert.deepEqual(logger.lines.filter(l => l.startsWith('warning: ')), [
      'warning: Could not refresh the Azure AD token (getting an Azure AD token: no answer from login.microsoftonline.com (ECONNREFUSED)); the current one, valid for another 300 s, is used meanwhile.'
    ])
    clock += 30_000
    assert.equal(await credential.getToken(), 't1', 'not tried again at once')
    assert.equal(attempts.length, 2)
    clock += 30_000
    assert.equal(await credential.getToken(), 't1', 'tried again a minute later, failed again')
    assert.equal(attempts.length, 3)
    failing = false
    clock += 60_000
    assert.equal(await credential.getToken(), 't2', 'the next try succeeded')
    assert.equal(attempts.length, 4)
  })

  it('a refresh failure with an expired token, or after a 401, is an error', async () => {
    let clock = 0
    let failing = false
    const credential = new CachedCredential(
      async () => {
        if (failing) throw new Error('AAD is down')
        return { token: 't1', expiresOnMs: clock + 3600_000 }
      },
      new MemoryLogger(),
      () => clock
    )
    await credential.getToken()
    failing = true
    await assert.rejects(credential.getToken({ forceRefresh: true }), /AAD is down/, 'the token was refused: no fallback')
    clock = 3600_000
    await assert.rejects(credential.getToken(), /AAD is down/, 'the token has expired: no fallback')
  })

  it('callers sharing a failed refresh all get the current token, and it is reported once', async () => {
    let clock = 0
    let failing = false
    const logger = new MemoryLogger()
    const credential = new CachedCredential(
      async () => {
        await new Promise(r => setTimeout(r, 5))
        if (failing) throw new Error('AAD is down')
        return { token: 't1', expiresOnMs: clock + 3600_000 }
      },
      logger,
      () => clock
    )
    await credential.getToken()
    failing = true
    clock = 3500_000
    assert.deepEqual(await Promise.all([credential.getToken(), credential.getToken(), credential.getToken()]), ['t1', 't1', 't1'])
    assert.equal(logger.lines.filter(l => l.startsWith('warning: ')).length, 1)
  })

  it('concurrent callers share one request', async () => {
    let calls = 0
    const credential = new CachedCredential(async () => {
      calls++
      await new Promise(r => setTimeout(r, 10))
      return { token: 'x', expiresOnMs: Date.now() + 3600_000 }
    }, new MemoryLogger())
    await Promise.all([credential.getToken(), credential.getToken(), credential.getToken()])
    assert.equal(calls, 1)
  })

  it('reads v1 (strings) and v2 (numbers) token answers', () => {
    assert.deepEqual(parseTokenResponse({ access_token: 'a', expires_in: '3599', expires_on: '2000000000' }, 'op', 0), { token: 'a', expiresOnMs: 2_000_000_000_000 })
    assert.deepEqual(parseTokenResponse({ access_token: 'a', expires_in: 3599 }, 'op', 1000), { token: 'a', expiresOnMs: 1000 + 3599_000 })
    assert.throws(() => parseTokenResponse({ expires_in: 5 }, 'op', 0), /no access_token/)
    assert.throws(() => parseTokenResponse({ access_token: 'a', expires_in: 'soon' }, 'op', 0), /no usable expires_in/)
  })
})
