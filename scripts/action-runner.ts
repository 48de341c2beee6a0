/**
 * Runs the bundled action exactly as the GitHub runner does: `node dist/index.js` with every input as an
 * `INPUT_<NAME>` variable and the runner's files ($GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY, $GITHUB_STATE).
 * Used by the demo and by the end-to-end tests.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..')

export interface ActionRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** Outputs written to $GITHUB_OUTPUT. */
  outputs: Record<string, string>
  /** Raw bytes of the runner files, for secret scans. */
  outputFile: string
  summary: string
  stateFile: string
  state: Record<string, string>
  /** The `::error::` lines, unescaped. */
  errors: string[]
}

export interface ActionOptions {
  /** The folder the step runs in ($GITHUB_WORKSPACE); default the project root. */
  workspace?: string
  /** Extra environment (GITHUB_REPOSITORY, ACTIONS_STEP_DEBUG, proxies, …). */
  env?: Record<string, string>
  /** Which bundle: dist/index.js (default) or dist/post/index.js. */
  entry?: string
  /** Receives each line of the action's stdout as it comes (the demo shows them). */
  onStdoutLine?: (line: string) => void
  /** Called once the process is started (to signal it, for example). */
  onStart?: (child: ChildProcess) => void
  /** State saved by an earlier step (for the post step). */
  stateFile?: string
  timeoutMs?: number
}

/** Runs the bundled action with these inputs and collects what it wrote. */
export async function runAction(inputs: Record<string, string>, options: ActionOptions = {}): Promise<ActionRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'azureml-action-run-'))
  const files = { output: path.join(dir, 'output'), summary: path.join(dir, 'summary.md'), state: path.join(dir, 'state') }
  for (const f of Object.values(files)) writeFileSync(f, '')
  if (options.stateFile) writeFileSync(files.state, readFileSync(options.stateFile))
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('INPUT_') && !k.startsWith('GITHUB_') && !k.startsWith('ACTIONS_') && !k.startsWith('RUNNER_') && !k.startsWith('STATE_')) env[k] = v
  }
  Object.assign(env, {
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: options.workspace ?? PROJECT_ROOT,
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_STATE: files.state,
    RUNNER_TEMP: dir,
    GITHUB_REPOSITORY: 'octo-org/ml-repo',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_ACTOR: 'octocat',
    GITHUB_WORKFLOW: 'train',
    GITHUB_EVENT_NAME: 'push',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '1'
  })
  // The runner passes saved state to the post step as STATE_<name>.
  if (options.stateFile) Object.assign(env, parseCommandFile(readFileSync(options.stateFile, 'utf8'), 'STATE_'))
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  Object.assign(env, options.env)

  const entry = path.join(PROJECT_ROOT, options.entry ?? 'dist/index.js')
  const child = spawn(process.execPath, [entry], { cwd: options.workspace ?? PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  options.onStart?.(child)
  let stdout = ''
  let stderr = ''
  let pending = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    if (!options.onStdoutLine) return
    const lines = (pending + chunk).split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) options.onStdoutLine(line)
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
    if (options.onStdoutLine) process.stderr.write(chunk)
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.on('close', (c, s) => resolve([c, s])))
  clearTimeout(timer)
  if (pending) options.onStdoutLine?.(pending)
  const outputFile = readFileSync(files.output, 'utf8')
  const stateFile = path.join(stateFolder(), `${path.basename(dir)}.state`)
  writeFileSync(stateFile, readFileSync(files.state))
  const result: ActionRun = {
    code,
    signal,
    stdout,
    stderr,
    outputs: parseCommandFile(outputFile),
    outputFile,
    summary: readFileSync(files.summary, 'utf8'),
    stateFile,
    state: parseCommandFile(readFileSync(files.state, 'utf8')),
    errors: workflowCommands(stdout)
      .filter(c => c.name === 'error')
      .map(c => c.message)
  }
  rmSync(dir, { recursive: true, force: true })
  return result
}

let states: string | undefined
/** Where the saved states of this process's runs are kept (for a later post step); removed when the process exits. */
function stateFolder(): string {
  if (!states) {
    const folder = mkdtempSync(path.join(tmpdir(), 'azureml-action-states-'))
    process.once('exit', () => rmSync(folder, { recursive: true, force: true }))
    states = folder
  }
  return states
}

/** Reads `name<<DELIMITER\nvalue\nDELIMITER` blocks (and `name=value` lines) of a runner command file. */
export function parseCommandFile(text: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i])
    if (heredoc) {
      const end = lines.indexOf(heredoc[2], i + 1)
      out[prefix + heredoc[1]] = lines.slice(i + 1, end).join('\n')
      i = end
    } else if (lines[i].includes('=')) {
      out[prefix + lines[i].slice(0, lines[i].indexOf('='))] = lines[i].slice(lines[i].indexOf('=') + 1)
    }
  }
  return out
}

/** The workflow commands the runner would act on: not those inside a `::stop-commands::` block. */
export function workflowCommands(stdout: string): { name: string; message: string }[] {
  const commands: { name: string; message: string }[] = []
  let resumeToken: string | undefined
  for (const line of stdout.split('\n')) {
    if (resumeToken) {
      if (line === `::${resumeToken}::`) resumeToken = undefined
      continue
    }
    const match = /^::([^: ]+)(?: [^:]*)?::(.*)$/.exec(line)
    if (!match) continue
    if (match[1] === 'stop-commands') resumeToken = match[2]
    else commands.push({ name: match[1], message: unescapeCommand(match[2]) })
  }
  return commands
}

function unescapeCommand(text: string): string {
  return text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
}
