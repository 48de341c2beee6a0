import { randomBytes } from 'node:crypto'
import type { Logger } from '../logger.js'

/**
 * Terminal escape sequences (colours, cursor moves, OSC hyperlinks and titles) and other control
 * characters, which a training script's output may contain and which must not reach the step log as such.
 */
// eslint-disable-next-line no-control-regex
const ESCAPES = /\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b\[[0-?]*[ -/]*[@-~]|\u001b[@-Z\\-_]|\u009b[0-?]*[ -/]*[@-~]|[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g

/** A JWT (an Azure AD access token, a run token, a GitHub OIDC token): three base64url parts, two of them JSON. */
const JWT = /\beyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g
/** A connection string's whole SAS token (`SharedAccessSignature=sv=…&sig=…`, up to the next `;`). */
const SAS_TOKEN = /\b(SharedAccessSignature=)([^\s;"'<>]+)/gi
/** The secret part of a SAS URL (`sig=`, also percent-encoded) and a connection string's keys. */
const SECRET_VALUES = /\b(sig(?:=|%3D)|(?:AccountKey|SharedAccessKey)=)([^\s;&"'<>)\]]+)/gi

/**
 * Text from a run (its error, its driver log) with what is shaped like a credential replaced by `***`:
 * the secrets a script may print cannot all be known here, but tokens and SAS and storage keys have a
 * shape. The runner masks the secrets the action registered; this covers the others.
 */
export function scrubSecrets(text: string): string {
  const hide = (all: string, name: string, value: string): string => (value === '***' ? all : `${name}***`)
  return text.replace(JWT, '***').replace(SAS_TOKEN, hide).replace(SECRET_VALUES, hide)
}

/** One line as it should show: escapes removed, and for `\r` progress bars only the last redraw. */
export function cleanLine(line: string): string {
  const withoutCr = line.replace(/\r+$/, '')
  const lastRedraw = withoutCr.lastIndexOf('\r')
  return (lastRedraw >= 0 ? withoutCr.slice(lastRedraw + 1) : withoutCr).replace(ESCAPES, '')
}

/**
 * Prints text that came from somewhere else (the run's driver log) so that nothing in it is taken as a
 * workflow command: `::stop-commands::` with a one-time token around the block, which the runner
 * documents for exactly this, plus escape sequences removed line by line.
 */
export function printUntrusted(logger: Logger, lines: readonly string[]): void {
  if (lines.length === 0) return
  const token = randomBytes(16).toString('hex')
  logger.info(`::stop-commands::${token}`)
  for (const line of lines) logger.info(cleanLine(line))
  logger.info(`::${token}::`)
}
