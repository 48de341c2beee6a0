/** One part of a multipart/form-data body. */
export interface MultipartPart {
  name: string
  filename?: string
  contentType?: string
  data: Buffer
}

/** Thrown for a body that is not well-formed multipart/form-data; the message says what is wrong. */
export class MultipartError extends Error {}

/** The boundary parameter of a multipart/form-data Content-Type, or undefined. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || contentType.split(';')[0].trim().toLowerCase() !== 'multipart/form-data') return undefined
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType)
  return match ? (match[1] ?? match[2]) : undefined
}

const CRLF = Buffer.from('\r\n')
const HEADER_END = Buffer.from('\r\n\r\n')

/**
 * Parses a multipart/form-data body (RFC 7578 / RFC 2046 framing: CRLF before every delimiter, optional
 * preamble, transport padding, closing delimiter). Part bodies are returned byte for byte.
 */
export function parseMultipart(body: Buffer, boundary: string): MultipartPart[] {
  const delimiter = Buffer.from(`--${boundary}`)
  const between = Buffer.from(`\r\n--${boundary}`)
  let pos = body.subarray(0, delimiter.length).equals(delimiter) ? 0 : body.indexOf(between)
  if (pos < 0) throw new MultipartError(`The body does not contain the boundary '${boundary}' given in the Content-Type header.`)
  if (pos > 0) pos += 2
  const parts: MultipartPart[] = []
  for (;;) {
    pos += delimiter.length
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++
    if (!body.subarray(pos, pos + 2).equals(CRLF)) throw new MultipartError('A multipart delimiter is not followed by a line break.')
    const headerEnd = body.indexOf(HEADER_END, pos)
    if (headerEnd < 0) throw new MultipartError('A multipart part has no blank line after its headers.')
    const headers = parseHeaders(body.subarray(pos + 2, headerEnd).toString('utf8'))
    const dataStart = headerEnd + 4
    const next = body.indexOf(between, dataStart)
    if (next < 0) throw new MultipartError('The multipart body ends without the closing boundary.')
    parts.push({ ...describe(headers), data: body.subarray(dataStart, next) })
    pos = next + 2
  }
}

function parseHeaders(text: string): Map<string, string> {
  const headers = new Map<string, string>()
  for (const line of text.split('\r\n')) {
    if (line === '') continue
    const colon = line.indexOf(':')
    if (colon <= 0) throw new MultipartError(`A multipart part has a malformed header line '${line.slice(0, 80)}'.`)
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
  }
  return headers
}

function describe(headers: Map<string, string>): Omit<MultipartPart, 'data'> {
  const disposition = headers.get('content-disposition')
  if (!disposition || !/^form-data\b/i.test(disposition)) throw new MultipartError("A multipart part has no 'Content-Disposition: form-data' header.")
  const params = new Map<string, string>()
  const re = /;\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g
  for (let m = re.exec(disposition); m; m = re.exec(disposition)) {
    params.set(m[1].toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3])
  }
  const name = params.get('name')
  if (!name) throw new MultipartError('A multipart part has no name in its Content-Disposition header.')
  const extended = params.get('filename*')
  const filename = extended ? decodeExtended(extended) : params.get('filename')
  return { name, filename, contentType: headers.get('content-type') }
}

function decodeExtended(value: string): string {
  const m = /^[\w-]+'[\w-]*'(.*)$/.exec(value)
  try {
    return decodeURIComponent(m ? m[1] : value)
  } catch {
    return value
  }
}
