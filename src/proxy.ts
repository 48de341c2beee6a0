import type { Logger } from './logger.js'

const PROXY_VARIABLES = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY'] as const
const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'] as const

/**
 * Makes the runner's proxy variables mean the same to every HTTP client of the action: @actions/http-client
 * (every REST call, the GitHub ID token) and the Azure Storage SDK (classic batch inputs and outputs).
 * - A proxy given without a scheme (`proxy.corp:8080`, as many corporate setups write it) would be parsed as a
 *   URL whose scheme is `proxy.corp:` and silently break every request (iterative/cml#336): it gets `http://`.
 * - http-client never proxies loopback hosts; the Storage SDK proxies whatever NO_PROXY does not list, so
 *   loopback is added to NO_PROXY (a storage emulator on the runner stays reachable).
 * Credentials in a proxy URL are masked.
 */
export function normalizeProxyVariables(env: Record<string, string | undefined>, logger: Logger): void {
  let proxied = false
  for (const name of PROXY_VARIABLES) {
    const value = env[name]?.trim()
    if (!value) continue
    proxied = true
    const normalized = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`
    env[name] = normalized
    let url: URL
    try {
      url = new URL(normalized)
    } catch {
      logger.warning(`${name} is not a proxy URL; requests may fail. Expected e.g. http://proxy.example.com:8080`)
      continue
    }
    if (url.password) {
      logger.mask(url.password)
      logger.mask(decodeURIComponent(url.password))
    }
    logger.debug(`${name}: requests go through ${url.protocol}//${url.host}${normalized === value ? '' : ' (http:// added: the variable had no scheme)'}`)
  }
  if (!proxied) return
  for (const name of ['NO_PROXY', 'no_proxy'] as const) {
    if (name === 'no_proxy' && env.no_proxy === undefined) continue
    const entries = (env[name] ?? '').split(',').map(e => e.trim()).filter(Boolean)
    const missing = LOOPBACK.filter(host => !entries.some(e => e.toLowerCase() === host))
    if (missing.length) env[name] = [...entries, ...missing].join(',')
  }
}
