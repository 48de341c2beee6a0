import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** The claims of an access token issued by the local Azure AD (and of run tokens). */
export interface TokenClaims {
  aud: string
  iss: string
  tid: string
  appid: string
  oid: string
  sub: string
  iat: number
  nbf: number
  exp: number
  ver: '1.0' | '2.0'
  idtyp?: string
  /** Present on run tokens only: the run the token is scoped to. */
  runId?: string
  /** Present on run tokens only: the ARM id of the run's workspace. */
  workspace?: string
}

/** Why a token was refused. */
export type TokenProblem = 'malformed' | 'signature' | 'expired' | 'notYetValid'

/** The outcome of verifying a token. */
export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; problem: TokenProblem; claims?: TokenClaims }

/** The audience of run tokens: no ARM or data-plane audience, so a leaked run token opens nothing else. */
export const RUN_TOKEN_AUDIENCE = 'azureml-run'

/**
 * Issues and verifies JWT-shaped tokens (HS256 over a key made at start), so a token from one emulator
 * instance is useless against another and nothing outside this process can mint one.
 */
export class TokenService {
  private readonly key = randomBytes(32)

  /** A signed token with these claims, valid from now for `lifetimeSeconds`. */
  issue(claims: Omit<TokenClaims, 'iat' | 'nbf' | 'exp'>, lifetimeSeconds: number, nowMs = Date.now()): { token: string; claims: TokenClaims } {
    const now = Math.floor(nowMs / 1000)
    const full: TokenClaims = { ...claims, iat: now, nbf: now, exp: now + lifetimeSeconds }
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'HS256' }))
    const payload = b64url(JSON.stringify(full))
    return { token: `${header}.${payload}.${this.sign(`${header}.${payload}`)}`, claims: full }
  }

  /** Checks shape, signature and lifetime; audience is the caller's business (it differs per service). */
  verify(token: string, nowMs = Date.now()): TokenCheck {
    const parts = token.split('.')
    if (parts.length !== 3 || parts.some(p => !/^[A-Za-z0-9_-]+$/.test(p))) return { ok: false, problem: 'malformed' }
    let claims: TokenClaims
    try {
      const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as { alg?: unknown }
      if (header.alg !== 'HS256') return { ok: false, problem: 'malformed' }
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as TokenClaims
    } catch {
      return { ok: false, problem: 'malformed' }
    }
    if (typeof claims !== 'object' || claims === null || typeof claims.exp !== 'number' || typeof claims.aud !== 'string') {
      return { ok: false, problem: 'malformed' }
    }
    const expected = Buffer.from(this.sign(`${parts[0]}.${parts[1]}`))
    const given = Buffer.from(parts[2])
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, problem: 'signature' }
    const now = nowMs / 1000
    if (now >= claims.exp) return { ok: false, problem: 'expired', claims }
    if (typeof claims.nbf === 'number' && now + 300 < claims.nbf) return { ok: false, problem: 'notYetValid', claims }
    return { ok: true, claims }
  }

  private sign(input: string): string {
    return createHmac('sha256', this.key).update(input).digest('base64url')
  }
}

function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url')
}
