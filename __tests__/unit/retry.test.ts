import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { backoffMs, DEFAULT_RETRY, isTransientConnectionError, retryAfterMs } from '../../src/http/retry.js'

describe('retry timing', () => {
  const now = Date.parse('2026-11-22T10:00:00Z')
  it('honours retry-after-ms, x-ms-retry-after-ms, then Retry-After seconds or date', () => {
    assert.equal(retryAfterMs({ 'retry-after-ms': '250', 'retry-after': '9' }, now), 250)
    assert.equal(retryAfterMs({ 'x-ms-retry-after-ms': '40' }, now), 40)
    assert.equal(retryAfterMs({ 'retry-after': '7' }, now), 7000)
    assert.equal(retryAfterMs({ 'retry-after': 'Sun, 22 Nov 2026 10:00:03 GMT' }, now), 3000)
    assert.equal(retryAfterMs({ 'retry-after': 'soon' }, now), undefined)
    assert.equal(retryAfterMs({}, now), undefined)
  })

  it('backs off exponentially with jitter, capped', () => {
    const options = { ...DEFAULT_RETRY, baseDelayMs: 1000, maxDelayMs: 8000 }
    assert.deepEqual([0, 1, 2, 3, 6].map(n => backoffMs(n, options, () => 0)), [500, 1000, 2000, 4000, 4000])
    assert.deepEqual([0, 1, 2, 3, 6].map(n => backoffMs(n, options, () => 1)), [1000, 2000, 4000, 8000, 8000])
  })

  it('knows which connection failures are transient', () => {
    assert.equal(isTransientConnectionError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })), true)
    assert.equal(isTransientConnectionError(new Error('Request timeout: /x')), true)
    assert.equal(isTransientConnectionError(new Error('socket hang up')), true)
    assert.equal(isTransientConnectionError(Object.assign(new Error('cert'), { code: 'CERT_HAS_EXPIRED' })), false)
  })
})
