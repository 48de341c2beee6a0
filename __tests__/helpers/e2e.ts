/**
 * End-to-end helpers: the local Azure ML service in-process, the bundled action spawned as the runner does,
 * throw-away workspaces with training code in them — and a secret scan of everything every run wrote.
 */
import { AssertionError } from 'node:assert'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { APIM_DEMO, CLASSIC_DEMO, startEmulator, type Emulator, type EmulatorOptions } from '../../emulator/index.js'
import { runAction, type ActionOptions, type ActionRun } from '../../scripts/action-runner.js'
import { SECRET_INPUTS } from '../../src/inputs.js'

/** The inputs that point the action at the local Azure ML service's demo workspace. */
export function workspaceInputs(emulator: Emulator): Record<string, string> {
  return {
    'azure-credentials': emulator.credentialsJson(),
    'resource-group': emulator.identity.resourceGroup,
    'workspace-name': emulator.identity.workspaceName
  }
}

/**
 * Local Azure ML services for a test file: each test starts its own (its request log and faults are its own)
 * with the file's defaults; `closeAll` in `after`.
 */
export function emulatorsFor(defaults: EmulatorOptions = {}): { start(options?: EmulatorOptions): Promise<Emulator>; closeAll(): Promise<void> } {
  const started: Emulator[] = []
  return {
    start: async (options = {}) => {
      const emulator = await startEmulator({ port: 0, ...defaults, ...options })
      started.push(emulator)
      return emulator
    },
    closeAll: async () => {
      await Promise.all(started.map(e => e.close()))
    }
  }
}

/** A folder standing in for a checked-out repository, with these files (path → content). */
export function tempWorkspace(files: Record<string, string>): { root: string; cleanup(): void } {
  const root = mkdtempSync(path.join(tmpdir(), 'azureml-e2e-ws-'))
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    writeFileSync(path.join(root, file), content)
  }
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) }
}

export interface E2eOptions extends ActionOptions {
  /** More values that must never appear in anything the action writes (keys, connection strings, …). */
  secrets?: readonly string[]
}

/**
 * Runs the bundled action; the requests it made to the emulator are returned with the result.
 * Every byte the action wrote is scanned for secrets first: a leak fails the test (see {@link findLeaks}).
 * The scan looks for every secret it can know without being told: the secret inputs given to the action
 * and every secret the emulator holds; `options.secrets` adds more.
 */
export async function runAgainst(emulator: Emulator, inputs: Record<string, string>, options: E2eOptions = {}): Promise<ActionRun & { requests: Emulator['requests'] }> {
  const before = emulator.requests.length
  const { secrets = [], ...actionOptions } = options
  const allInputs = { ...workspaceInputs(emulator), ...inputs }
  const result = await runAction(allInputs, actionOptions)
  assertNoLeaks(result, [...secretsKnownTo(emulator, allInputs, actionOptions.env ?? {}), ...secrets])
  return { ...result, requests: emulator.requests.slice(before) }
}

/**
 * Runs the bundled action and sends it `signal` at the first stdout line `when` accepts (as the runner
 * signals a cancelled step); fails when the action never printed such a line.
 */
export async function runAndSignal(
  emulator: Emulator,
  inputs: Record<string, string>,
  signal: NodeJS.Signals,
  when: (line: string) => boolean,
  options: E2eOptions = {}
): Promise<Awaited<ReturnType<typeof runAgainst>>> {
  let child: ChildProcess | undefined
  let sent = false
  const run = await runAgainst(emulator, inputs, {
    ...options,
    onStart: c => {
      child = c
    },
    onStdoutLine: line => {
      if (!sent && when(line)) {
        sent = true
        child!.kill(signal)
      }
    }
  })
  if (!sent) throw new AssertionError({ message: `the action never got as far as the signal point:\n${run.stdout}` })
  return run
}

/**
 * The secrets a run could leak: the values of the action's secret inputs (with the client secret inside
 * `azure-credentials` and the key inside a storage connection string), the OIDC request token in its
 * environment, and the emulator's own: client secrets, deployed services' keys, the classic web service's
 * API key, the API Management subscription keys and the GitHub API token. Input values shorter than 8
 * characters are left out: bad-input tests give such values, and they occur in ordinary text.
 */
function secretsKnownTo(emulator: Emulator, inputs: Record<string, string>, env: Record<string, string | undefined>): string[] {
  const fromInputs: string[] = []
  for (const name of SECRET_INPUTS) {
    const value = inputs[name]?.trim()
    if (!value) continue
    fromInputs.push(value)
    if (name === 'azure-credentials') {
      try {
        const parsed = JSON.parse(value) as { clientSecret?: unknown }
        if (typeof parsed?.clientSecret === 'string') fromInputs.push(parsed.clientSecret)
      } catch {
        // Malformed on purpose (a bad-input test): the whole value is already listed.
      }
    }
    if (name === 'storage-connection-string') {
      for (const m of value.matchAll(/\b(?:AccountKey|SharedAccessSignature)=([^;]+)/gi)) fromInputs.push(m[1])
    }
  }
  return [
    ...fromInputs.filter(v => v.length >= 8),
    env.ACTIONS_ID_TOKEN_REQUEST_TOKEN ?? '',
    emulator.identity.clientSecret,
    emulator.identity.noRole.clientSecret,
    ...emulator.services.all().flatMap(s => [s.keys.primaryKey, s.keys.secondaryKey]),
    CLASSIC_DEMO.apiKey,
    APIM_DEMO.primaryKey,
    APIM_DEMO.secondaryKey,
    emulator.github.api.token,
    emulator.oidc.demoJob.requestToken
  ]
}

/** A secret found where the action wrote it. */
export interface Leak {
  /** stdout, stderr, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY or the saved state. */
  where: string
  what: string
  /** What precedes it on its line (any secret in it scrubbed), to find it by. */
  line: string
}

/** What a run wrote, by where it went; stdout without `::add-mask::` lines (how the runner learns what to mask). */
export function writtenBy(run: ActionRun): Record<string, string> {
  return {
    stdout: run.stdout
      .split('\n')
      .filter(line => !line.startsWith('::add-mask::'))
      .join('\n'),
    stderr: run.stderr,
    GITHUB_OUTPUT: run.outputFile,
    GITHUB_STEP_SUMMARY: run.summary,
    'saved state': readFileSync(run.stateFile, 'utf8')
  }
}

const JWT = /eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g
const SAS_SIGNATURE = /\bsig(?:=|%3D)([^&\s"'<>)\]]+)/gi
/** A connection string's storage key or SAS token (up to the next `;`). */
const CONNECTION_SECRET = /\b(AccountKey|SharedAccessSignature)=([^;\s"'<>]+)/gi
/**
 * A value the action hid: `REDACTED` or `***`, alone or followed by the runner's percent-encoding (an
 * `::error::` line has its line breaks as `%0A`, so what follows runs on without a space).
 */
const isHidden = (value: string): boolean => /^(?:REDACTED|\*\*\*)(?:$|%)/.test(value)

/**
 * The secrets in these texts: the given values (as they are and percent-encoded), any JWT-shaped token
 * (every Azure AD access token and run token is one), any SAS `sig=` value and any connection string's
 * `AccountKey=` or `SharedAccessSignature=` value, other than `REDACTED` or `***`.
 */
export function findLeaks(texts: Record<string, string>, secrets: readonly string[]): Leak[] {
  const forms = [...new Set(secrets.filter(Boolean).flatMap(secret => [secret, encodeURIComponent(secret)]))]
  // The report shows where a secret is, never any part of one (nor of another on the same line).
  const scrub = (text: string): string => {
    let out = text
      .replace(JWT, '[JWT]')
      .replace(CONNECTION_SECRET, (all, name: string, value: string) => (isHidden(value) ? all : `${name}=[secret]`))
      .replace(SAS_SIGNATURE, (all, value: string) => (isHidden(value) ? all : 'sig=[signature]'))
    for (const form of forms) out = out.split(form).join('[secret]')
    return out
  }
  const context = (text: string, index: number): string => {
    const start = Math.max(text.lastIndexOf('\n', index) + 1, index - 60)
    return `${scrub(text.slice(start, index))}▶[here]`
  }
  const leaks: Leak[] = []
  for (const [where, text] of Object.entries(texts)) {
    for (const form of forms) {
      for (let index = text.indexOf(form); index !== -1; index = text.indexOf(form, index + form.length)) {
        leaks.push({ where, what: 'a secret value', line: context(text, index) })
      }
    }
    for (const match of text.matchAll(JWT)) leaks.push({ where, what: 'a JWT (access or run token)', line: context(text, match.index) })
    for (const match of text.matchAll(SAS_SIGNATURE)) {
      if (!isHidden(match[1])) leaks.push({ where, what: 'a SAS signature', line: context(text, match.index) })
    }
    for (const match of text.matchAll(CONNECTION_SECRET)) {
      if (!isHidden(match[2])) leaks.push({ where, what: match[1].toLowerCase() === 'accountkey' ? 'a storage account key' : 'a SAS token', line: context(text, match.index) })
    }
  }
  return leaks
}

/** Fails with every leak found in what the run wrote. */
export function assertNoLeaks(run: ActionRun, secrets: readonly string[]): void {
  const leaks = findLeaks(writtenBy(run), secrets)
  if (leaks.length === 0) return
  throw new AssertionError({
    message: `The action leaked ${leaks.length} secret(s):\n${leaks.map(l => `  ${l.what} in ${l.where}: ${l.line}`).join('\n')}`,
    actual: leaks,
    expected: [],
    operator: 'noLeaks'
  })
}

/** The `::error::` messages joined, for assertions. */
export function errorText(run: ActionRun): string {
  return run.errors.join('\n')
}

/** Waits until `check` returns a value (polling every 50 ms); fails with `what` after `ms`. Not a timing assertion: a hang guard. */
export async function eventually<T>(what: string, check: () => T | undefined | false, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = check()
    if (value) return value
    if (Date.now() > deadline) throw new AssertionError({ message: `gave up waiting for ${what}` })
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/**
 * A stand-in for the network beyond loopback: an HTTP proxy (for HTTPS_PROXY / HTTP_PROXY) that records
 * what each connection asked for and answers nothing useful. @actions/http-client sends every non-loopback
 * request through the proxy, so `asked` lists every attempt to reach a host other than the local service.
 */
export async function trapProxy(): Promise<{ url: string; asked: string[]; close(): Promise<void> }> {
  const asked: string[] = []
  const server = createServer(socket => {
    socket.once('data', chunk => {
      const line = chunk.toString('latin1').split('\r\n')[0]
      asked.push(line)
      if (!line.startsWith('CONNECT ')) return void socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
      // Accept the tunnel, then answer the TLS handshake with plain text: the client fails at once with a
      // TLS error (not a transient one, so the action does not retry it).
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      socket.once('data', () => socket.end('this is not TLS\r\n\r\n'))
    })
    socket.on('error', () => undefined)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, asked, close: () => new Promise(resolve => server.close(() => resolve())) }
}
