import { randomBytes } from 'node:crypto'
import { createReadStream, statSync } from 'node:fs'
import { Readable } from 'node:stream'
import type { StreamBody } from './pipeline.js'

/** One part of a multipart/form-data body: in-memory text or a file streamed from disk. */
export type FormPart =
  | { name: string; filename: string; contentType: string; text: string }
  | { name: string; filename: string; contentType: string; filePath: string }

/**
 * A multipart/form-data body whose files are streamed from disk, never read into memory, with an exact
 * Content-Length (computed from the file sizes) so no chunked encoding is needed. It can be re-opened for
 * every retry.
 */
export function multipartBody(parts: FormPart[]): StreamBody {
  const boundary = `----azureml-action-${randomBytes(12).toString('hex')}`
  const segments: ({ kind: 'bytes'; data: Buffer } | { kind: 'file'; path: string; size: number })[] = []
  for (const part of parts) {
    const head =
      `--${boundary}\r\n` +
      `Content-Disposition: form-data; name="${quote(part.name)}"; filename="${quote(part.filename)}"\r\n` +
      `Content-Type: ${part.contentType}\r\n\r\n`
    segments.push({ kind: 'bytes', data: Buffer.from(head, 'utf8') })
    if ('text' in part) segments.push({ kind: 'bytes', data: Buffer.from(part.text, 'utf8') })
    else segments.push({ kind: 'file', path: part.filePath, size: statSync(part.filePath).size })
    segments.push({ kind: 'bytes', data: Buffer.from('\r\n', 'utf8') })
  }
  segments.push({ kind: 'bytes', data: Buffer.from(`--${boundary}--\r\n`, 'utf8') })
  const length = segments.reduce((sum, s) => sum + (s.kind === 'bytes' ? s.data.length : s.size), 0)
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length,
    open: () =>
      Readable.from(
        (async function* () {
          for (const segment of segments) {
            if (segment.kind === 'bytes') yield segment.data
            else yield* createReadStream(segment.path)
          }
        })()
      )
  }
}

function quote(value: string): string {
  return value.replace(/["\\\r\n]/g, '_')
}
