import { execFile } from 'node:child_process'
import { open } from 'node:fs/promises'
import { promisify } from 'node:util'

const run = promisify(execFile)

/**
 * Checks that a file is a zip archive Python can read: the local-file (or empty-archive) signature at the
 * start, the end-of-central-directory record near the end, then `zipfile.testzip()` over every member.
 * Returns a reason when it is not.
 */
export async function checkZip(python: string, file: string): Promise<string | undefined> {
  const handle = await open(file, 'r')
  try {
    const { size } = await handle.stat()
    if (size < 22) return 'the file is too small to be a zip archive'
    const head = Buffer.alloc(4)
    await handle.read(head, 0, 4, 0)
    if (!head.equals(Buffer.from([0x50, 0x4b, 0x03, 0x04])) && !head.equals(Buffer.from([0x50, 0x4b, 0x05, 0x06]))) {
      return 'it does not start with a zip signature (PK\\x03\\x04)'
    }
    const tailLength = Math.min(size, 65557)
    const tail = Buffer.alloc(tailLength)
    await handle.read(tail, 0, tailLength, size - tailLength)
    if (tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06])) < 0) return 'it has no end-of-central-directory record'
  } finally {
    await handle.close()
  }
  const script = 'import sys, zipfile\nbad = zipfile.ZipFile(sys.argv[1]).testzip()\nif bad: sys.exit("corrupt member: " + bad)'
  try {
    await run(python, ['-c', script, file], { timeout: 60_000 })
    return undefined
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim()
    const last = stderr.split('\n').pop() ?? ''
    return `Python's zipfile cannot read it (${last || (err as Error).message})`
  }
}

/** Extracts a zip with Python's zipfile, which refuses members that would land outside `dir`. */
export async function extractZip(python: string, file: string, dir: string): Promise<void> {
  await run(python, ['-c', 'import sys, zipfile\nzipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', file, dir], { timeout: 120_000 })
}
