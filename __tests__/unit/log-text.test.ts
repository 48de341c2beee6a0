import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryLogger } from '../../src/logger.js'
import { cleanLine, printUntrusted } from '../../src/report/log-text.js'

describe('printing the driver log safely', () => {
  it('removes colours, cursor moves, OSC links and control characters', () => {
    assert.equal(cleanLine('\u001b[31mred\u001b[0m text'), 'red text')
    assert.equal(cleanLine('\u001b]8;;https://evil\u0007click\u001b]8;;\u0007'), 'click')
    assert.equal(cleanLine('\u001b]0;title\u001b\\after'), 'after')
    assert.equal(cleanLine('bell\u0007 and null\u0000'), 'bell and null')
    assert.equal(cleanLine('tabs\tstay'), 'tabs\tstay')
  })

  it('keeps only the last redraw of a carriage-return progress bar', () => {
    assert.equal(cleanLine('10%\r50%\r100%\r'), '100%')
    assert.equal(cleanLine('line\r'), 'line')
  })

  it('wraps the lines in stop-commands with a one-time token so no workflow command runs', () => {
    const logger = new MemoryLogger()
    printUntrusted(logger, ['::set-output name=run-id::evil', '::add-mask::x', 'normal'])
    const [first, ...rest] = logger.lines
    const token = /^::stop-commands::([0-9a-f]{32})$/.exec(first)?.[1]
    assert.ok(token, first)
    assert.equal(rest[rest.length - 1], `::${token}::`)
    assert.deepEqual(rest.slice(0, -1), ['::set-output name=run-id::evil', '::add-mask::x', 'normal'])
    const logger2 = new MemoryLogger()
    printUntrusted(logger2, ['x'])
    assert.notEqual(logger2.lines[0], first, 'a new token every time')
  })
})
