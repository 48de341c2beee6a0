import type { Logger } from './logger.js'

const VARIABLES = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY'] as const

/**
 * Makes the runner's proxy variables usable by every HTTP client of the action (@actions/http-client and
 * the Azure Storage SDK): a proxy given without a scheme (`proxy.corp:8080`, as many corporate setups write
 * it) would otherwise be parsed as a URL whose scheme is `proxy.corp:` and silently break every request
 * (iterative/cml#336), so it gets `http://`. Credentials in a proxy URL are masked.
 */
export function normalizeProxyVariables(env: Record<string, string | undefined>, logger: Logger): void {
  for (const name of VARIABLES) {
    const value = env[name]?.trim()
    if (!value) continue
    const normalized = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`
    env[name] = normalized
    let url: URL
    try {
      url = new URL(normalized)
    } catch {
      logger.warning(`${name} is not a proxy URL; requests may fail. Expected e.g. http://proxy.example.com:8080`)
      continue
    }
    if (url.password) logger.mask(decodeURIComponent(url.password))
    logger.debug(`${name}: requests go through ${url.protocol}//${url.host}${normalized === value ? '' : ' (http:// added: the variable had no scheme)'}`)
  }
}
