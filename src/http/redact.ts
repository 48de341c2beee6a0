/**
 * Makes URLs and header sets safe to print: SAS signatures, keys and tokens in query strings are replaced,
 * Authorization-like headers are dropped. Used by the debug log of the request pipeline.
 */
const SECRET_QUERY_KEYS = new Set(['sig', 'signature', 'code', 'key', 'subscription-key', 'client_secret', 'access_token', 'token'])

/** The URL with secret query values replaced by `REDACTED`. */
export function redactUrl(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return url.replace(/([?&](?:sig|signature|code|key|token)=)[^&#]*/gi, '$1REDACTED')
  }
  for (const key of [...parsed.searchParams.keys()]) {
    if (SECRET_QUERY_KEYS.has(key.toLowerCase())) parsed.searchParams.set(key, 'REDACTED')
  }
  return parsed.toString()
}

const SECRET_HEADERS = new Set(['authorization', 'ocp-apim-subscription-key', 'x-ms-authorization-auxiliary', 'cookie', 'set-cookie'])

/** Header names and values fit for a debug line; secret headers show as `REDACTED`. */
export function redactHeaders(headers: Record<string, string | string[] | number | undefined>): string {
  return Object.entries(headers)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${SECRET_HEADERS.has(k.toLowerCase()) ? 'REDACTED' : String(v)}`)
    .join(', ')
}

/** Free text (an error message quoting a URL) with secret query values replaced by `REDACTED`. */
export function redactText(text: string): string {
  return text.replace(/([?&](?:sig|signature|code|key|subscription-key|token|access_token|client_secret)=)[^&\s"'<>]*/gi, '$1REDACTED')
}
