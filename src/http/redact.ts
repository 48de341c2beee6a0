/**
 * Makes URLs and messages safe to print: SAS signatures, keys and tokens in query strings are replaced. Used
 * by the debug log of the request pipeline (which never prints headers).
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

/** Free text (an error message quoting a URL) with secret query values replaced by `REDACTED`. */
export function redactText(text: string): string {
  return text.replace(/([?&](?:sig|signature|code|key|subscription-key|token|access_token|client_secret)=)[^&\s"'<>]*/gi, '$1REDACTED')
}
