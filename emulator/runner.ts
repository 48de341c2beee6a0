import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { lstat, mkdir, open, readdir, rename } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ArtifactStore } from './artifact-store.js'
import type { BoundRunDefinition } from './run-definition.js'
import type { Settings } from './settings.js'
import { extractZip } from './snapshot.js'
import { TERMINAL_STATUSES, workspaceArmId, type RunError, type RunRecord, type RunStatus, type Workspace } from './state.js'
import { RUN_TOKEN_AUDIENCE, type TokenService } from './tokens.js'

/** The driver log every run writes, as in Azure ML. */
export const DRIVER_LOG = 'azureml-logs/70_driver_log.txt'
const ORIGIN = 'ExperimentRun'
const KILL_GRACE_MS = 3000
const RUN_TOKEN_LIFETIME_SECONDS = 7 * 24 * 3600
const COMPUTE_POLL_MS = 100
/** setTimeout's longest delay (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1
/**
 * What a training script sees of the host's environment: what the interpreter needs to start and to find
 * its files (PYENV_* picks the interpreter where python3 is a pyenv shim), nothing else. Azure ML starts a run in a clean environment; the host's variables (CI secrets,
 * INPUT_*, cloud credentials) must not reach a script. Names compare case-insensitively (Windows).
 */
const HOST_ENVIRONMENT = [/^PATH$/, /^HOME$/, /^LANG$/, /^LC_[A-Z_]+$/, /^TMPDIR$/, /^TMP$/, /^TEMP$/, /^TZ$/, /^PYTHON[A-Z_]*$/, /^PYENV_[A-Z_]+$/, /^SYSTEMROOT$/, /^WINDIR$/, /^PATHEXT$/]

/** What the runner needs. */
export interface RunnerDeps {
  settings: Settings
  artifacts: ArtifactStore
  tokens: TokenService
  /** Where runs get their folders (`{runsDir}/{runId}/snapshot`). */
  runsDir: string
  /** The folder holding the `azureml` Python shim, put first on PYTHONPATH. */
  pythonPath: string
  baseUrl: () => string
}

/** The process side of a run, for tests. */
export interface ProcessInfo {
  pid?: number
  running: boolean
  exitCode?: number | null
  signal?: string | null
}

interface ActiveRun {
  run: RunRecord
  ws: Workspace
  child?: ChildProcess
  exitCode?: number | null
  signal?: string | null
  cancelRequested: boolean
  timedOutAfter?: number
  killTimer?: NodeJS.Timeout
  maxTimer?: NodeJS.Timeout
  done: Promise<void>
}

/** Stops a run's pipeline quietly when the emulator closes. */
class Closed extends Error {}

/**
 * Runs what startrun accepted, for real: unzip the snapshot, start `python <script> <args>` in it with the
 * environment Azure ML sets, stream its output into the driver log, collect `./outputs`, and walk the run
 * through Azure ML's statuses with a pause between phases so that clients see every one of them.
 */
export class RunExecutor {
  private readonly active = new Map<string, ActiveRun>()
  private readonly closing = new AbortController()

  constructor(private readonly deps: RunnerDeps) {}

  /** Starts the run's pipeline in the background; `zipFile` (a checked zip) is moved into the run's folder. */
  start(ws: Workspace, run: RunRecord, zipFile: string, bound: BoundRunDefinition): void {
    const entry: ActiveRun = { run, ws, cancelRequested: false, done: Promise.resolve() }
    entry.done = this.execute(entry, zipFile, bound).catch(err => {
      if (err instanceof Closed || this.closing.signal.aborted) return
      this.finish(entry, 'Failed', { code: 'ServiceError', message: `The local Azure ML service failed to run the job: ${(err as Error).message}` })
    })
    this.active.set(run.runId, entry)
  }

  /** Cancel: CancelRequested now, SIGTERM to the process (SIGKILL after 3 s), Canceled once it is gone. */
  cancel(run: RunRecord): void {
    if (TERMINAL_STATUSES.includes(run.status)) return
    run.hold = null
    const entry = this.active.get(run.runId)
    if (!entry) {
      // A run created through PATCH has no process: nothing to wait for.
      setStatus(run, 'CancelRequested')
      setStatus(run, 'Canceled')
      run.endTimeUtc = new Date().toISOString()
      return
    }
    if (entry.cancelRequested) return
    entry.cancelRequested = true
    setStatus(run, 'CancelRequested')
    this.kill(entry)
  }

  /** Reports `status` instead of the real one for `seconds`; phase changes wait until the hold ends. */
  hold(run: RunRecord, status: RunStatus, seconds: number): void {
    run.hold = { status, until: Date.now() + seconds * 1000 }
  }

  /** The run's process, if it has one. */
  processInfo(runId: string): ProcessInfo | undefined {
    const entry = this.active.get(runId)
    if (!entry?.child) return undefined
    const running = entry.exitCode === undefined
    return { pid: entry.child.pid, running, exitCode: entry.exitCode, signal: entry.signal }
  }

  /** Kills every run's process and waits for the pipelines to stop. */
  async close(): Promise<void> {
    this.closing.abort()
    for (const entry of this.active.values()) this.signal(entry, 'SIGKILL')
    await Promise.race([Promise.all([...this.active.values()].map(e => e.done)), sleep(5000, undefined, { ref: false })])
    for (const entry of this.active.values()) {
      clearTimeout(entry.killTimer)
      clearTimeout(entry.maxTimer)
    }
  }

  private async execute(entry: ActiveRun, zipFile: string, bound: BoundRunDefinition): Promise<void> {
    const { run } = entry
    const runDir = path.join(this.deps.runsDir, run.runId)
    const snapshotDir = path.join(runDir, 'snapshot')
    await mkdir(snapshotDir, { recursive: true })
    await rename(zipFile, path.join(runDir, 'project.zip'))

    if (!(await this.step(entry, 'Starting'))) return this.finishCanceled(entry, snapshotDir)
    if (!(await this.step(entry, 'Preparing'))) return this.finishCanceled(entry, snapshotDir)
    try {
      await extractZip(this.deps.settings.python, path.join(runDir, 'project.zip'), snapshotDir)
    } catch (err) {
      return this.finish(entry, 'Failed', { code: 'UserError', message: `The project zip could not be extracted: ${(err as Error).message}` })
    }
    if (!(await this.step(entry, 'Queued'))) return this.finishCanceled(entry, snapshotDir)
    const compute = await this.waitForCompute(entry, bound.target)
    if (compute.outcome === 'canceled') return this.finishCanceled(entry, snapshotDir)
    if (compute.outcome === 'failed') {
      await this.pause()
      return this.finish(entry, 'Failed', { code: 'UserError', message: compute.message })
    }
    if (!(await this.step(entry, 'Running'))) return this.finishCanceled(entry, snapshotDir)
    run.startTimeUtc = new Date().toISOString()

    const exit = await this.runProcess(entry, snapshotDir, bound)
    clearTimeout(entry.maxTimer)
    clearTimeout(entry.killTimer)
    if (entry.cancelRequested || entry.timedOutAfter !== undefined) return this.finishCanceled(entry, snapshotDir)

    await this.waitHold(run)
    if (entry.cancelRequested) return this.finishCanceled(entry, snapshotDir)
    setStatus(run, 'Finalizing')
    await this.collectOutputs(entry, snapshotDir)
    await this.pause()
    await this.waitHold(run)
    if (entry.cancelRequested) return this.finish(entry, 'Canceled', null)
    if (exit.code === 0) return this.finish(entry, 'Completed', null)
    const exception = await this.lastException(entry)
    this.finish(entry, 'Failed', {
      code: 'UserError',
      message: exception
        ? `User program failed with ${exception}`
        : `User program failed with exit code ${exit.code ?? `null (killed by ${exit.signal ?? 'a signal'})`}`
    })
  }

  /**
   * Keeps a Queued run waiting while its compute is being provisioned, as Azure ML queues a run until the
   * cluster can take it. It fails when the compute does not exist (any more) or its provisioning failed.
   */
  private async waitForCompute(entry: ActiveRun, target: string): Promise<{ outcome: 'ready' | 'canceled' } | { outcome: 'failed'; message: string }> {
    const { ws } = entry
    for (;;) {
      await this.waitHold(entry.run)
      if (entry.cancelRequested) return { outcome: 'canceled' }
      const compute = ws.computes.get(target.toLowerCase())
      // Azure's wording, as a run on a missing cluster fails with it (Azure/MachineLearningNotebooks#906:
      // {"Error":{"Code":"UserError","Message":"AzureMLCompute cluster deal-uat does not exist"}}).
      if (!compute) return { outcome: 'failed', message: `AzureMLCompute cluster ${target} does not exist` }
      if (compute.provisioningState === 'Succeeded') return { outcome: 'ready' }
      if (compute.provisioningState === 'Failed') {
        const why = compute.provisioningErrors.map(e => e.message).filter(Boolean).join('; ')
        return { outcome: 'failed', message: `AzureMLCompute cluster ${compute.name} failed to provision${why ? `: ${why}` : ''}` }
      }
      // Creating, Updating or Deleting: look again shortly.
      await this.sleep(COMPUTE_POLL_MS)
    }
  }

  /** Waits the phase delay and any hold, then moves to `status`; false when the run was canceled meanwhile. */
  private async step(entry: ActiveRun, status: RunStatus): Promise<boolean> {
    await this.pause()
    await this.waitHold(entry.run)
    if (entry.cancelRequested) return false
    setStatus(entry.run, status)
    return true
  }

  private async pause(): Promise<void> {
    await this.sleep(this.deps.settings.runPhaseDelayMs)
  }

  private async sleep(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.closing.signal })
    } catch {
      throw new Closed()
    }
  }

  private async waitHold(run: RunRecord): Promise<void> {
    while (run.hold && Date.now() < run.hold.until) await this.sleep(Math.min(run.hold.until - Date.now(), 100))
    run.hold = null
  }

  private runProcess(entry: ActiveRun, snapshotDir: string, bound: BoundRunDefinition): Promise<{ code: number | null; signal: string | null }> {
    const { run, ws } = entry
    const log = this.deps.artifacts.createEmpty(ws.workspaceId, ORIGIN, run.dataContainerId, DRIVER_LOG)
    const { token } = this.deps.tokens.issue(
      {
        aud: RUN_TOKEN_AUDIENCE,
        iss: `https://sts.windows.net/${ws.tenantId}/`,
        tid: ws.tenantId,
        appid: run.createdBy.userName,
        oid: run.createdBy.userObjectId,
        sub: run.runId,
        ver: '1.0',
        runId: run.runId,
        workspace: workspaceArmId(ws)
      },
      RUN_TOKEN_LIFETIME_SECONDS
    )
    const userPythonPath = bound.environmentVariables.PYTHONPATH ?? process.env.PYTHONPATH
    const env: NodeJS.ProcessEnv = {
      ...hostEnvironment(process.env),
      ...bound.environmentVariables,
      AZUREML_RUN_ID: run.runId,
      AZUREML_ARM_SUBSCRIPTION: ws.subscriptionId,
      AZUREML_ARM_RESOURCEGROUP: ws.resourceGroup,
      AZUREML_ARM_WORKSPACE_NAME: ws.name,
      AZUREML_ARM_PROJECT_NAME: run.experiment.name,
      AZUREML_EXPERIMENT_ID: run.experiment.experimentId,
      AZUREML_WORKSPACE_ID: ws.workspaceId,
      AZUREML_DATA_CONTAINER_ID: run.dataContainerId,
      AZUREML_SERVICE_ENDPOINT: this.deps.baseUrl(),
      AZUREML_RUN_TOKEN: token,
      PYTHONUNBUFFERED: '1',
      // Keeps __pycache__ out of the shim's folder, which lives in the source tree.
      PYTHONDONTWRITEBYTECODE: '1',
      PYTHONPATH: [this.deps.pythonPath, userPythonPath].filter(Boolean).join(path.delimiter)
    }
    // The child writes straight into the log artifact (O_APPEND), so readers see it grow line by line.
    const fd = openSync(log.file, 'a')
    return new Promise(resolve => {
      let child: ChildProcess
      try {
        child = spawn(this.deps.settings.python, [bound.script, ...bound.arguments], {
          cwd: snapshotDir,
          env,
          stdio: ['ignore', fd, fd],
          detached: true
        })
      } finally {
        closeSync(fd)
      }
      entry.child = child
      const done = (code: number | null, signal: string | null): void => {
        if (entry.exitCode !== undefined) return
        entry.exitCode = code
        entry.signal = signal
        resolve({ code, signal })
      }
      child.on('error', err => {
        void this.deps.artifacts.write(ws.workspaceId, ORIGIN, run.dataContainerId, DRIVER_LOG, Buffer.from(`Could not start ${this.deps.settings.python}: ${err.message}\n`), {
          append: true
        })
        done(127, null)
      })
      child.on('exit', (code, signal) => done(code, signal))
      const max = bound.maxRunDurationSeconds
      if (max !== null) {
        this.armMaxTimer(entry, max * 1000, () => {
          entry.timedOutAfter = max
          this.kill(entry)
        })
      }
      if (entry.cancelRequested) this.kill(entry)
    })
  }

  /** Calls `fire` after `ms`, in steps setTimeout can take: a limit of weeks must not kill the run at once. */
  private armMaxTimer(entry: ActiveRun, ms: number, fire: () => void): void {
    const step = Math.min(ms, MAX_TIMER_MS)
    entry.maxTimer = setTimeout(() => (ms > step ? this.armMaxTimer(entry, ms - step, fire) : fire()), step)
  }

  private kill(entry: ActiveRun): void {
    if (!entry.child || entry.exitCode !== undefined) return
    this.signal(entry, 'SIGTERM')
    entry.killTimer = setTimeout(() => this.signal(entry, 'SIGKILL'), KILL_GRACE_MS)
  }

  private signal(entry: ActiveRun, signal: NodeJS.Signals): void {
    const pid = entry.child?.pid
    if (pid === undefined || entry.exitCode !== undefined) return
    try {
      // The run's process group (detached): the script and anything it started.
      process.kill(-pid, signal)
    } catch {
      entry.child?.kill(signal)
    }
  }

  private async finishCanceled(entry: ActiveRun, snapshotDir: string): Promise<void> {
    await this.collectOutputs(entry, snapshotDir)
    const max = entry.timedOutAfter
    this.finish(
      entry,
      'Canceled',
      max === undefined ? null : { code: 'UserError', message: `The run exceeded MaxRunDurationSeconds (${max} s) and was canceled: the process was killed.` }
    )
  }

  private finish(entry: ActiveRun, status: 'Completed' | 'Failed' | 'Canceled', error: RunError | null): void {
    const { run } = entry
    if (TERMINAL_STATUSES.includes(run.status)) return
    run.error = error
    run.endTimeUtc = new Date().toISOString()
    run.hold = null
    setStatus(run, status)
  }

  /** Every file under the snapshot's `outputs/` becomes the artifact `outputs/<relative path>`. */
  private async collectOutputs(entry: ActiveRun, snapshotDir: string): Promise<void> {
    const root = path.join(snapshotDir, 'outputs')
    const walk = async (dir: string): Promise<string[]> => {
      let names: string[]
      try {
        names = await readdir(dir)
      } catch {
        return []
      }
      const files: string[] = []
      for (const name of names.sort()) {
        const full = path.join(dir, name)
        const stats = await lstat(full)
        if (stats.isDirectory()) files.push(...(await walk(full)))
        else if (stats.isFile()) files.push(full)
      }
      return files
    }
    for (const file of await walk(root)) {
      const relative = path.relative(snapshotDir, file).split(path.sep).join('/')
      await this.deps.artifacts.importFile(entry.ws.workspaceId, ORIGIN, entry.run.dataContainerId, relative, file)
    }
  }

  /** The exception line of the last Python traceback in the driver log, e.g. "ZeroDivisionError: division by zero". */
  private async lastException(entry: ActiveRun): Promise<string | undefined> {
    const log = this.deps.artifacts.get(entry.ws.workspaceId, ORIGIN, entry.run.dataContainerId, DRIVER_LOG)
    if (!log) return undefined
    const handle = await open(log.file, 'r')
    let text: string
    try {
      const { size } = await handle.stat()
      const length = Math.min(size, 64 * 1024)
      const buffer = Buffer.alloc(length)
      await handle.read(buffer, 0, length, size - length)
      text = buffer.toString('utf8')
    } finally {
      await handle.close()
    }
    return lastExceptionLine(text)
  }
}

/** The exception line of the last traceback in a Python error output (or a bare SyntaxError-style last line). */
export function lastExceptionLine(text: string): string | undefined {
  const at = text.lastIndexOf('Traceback (most recent call last):')
  if (at >= 0) {
    const line = text
      .slice(at)
      .split(/\r?\n/)
      .slice(1)
      .find(l => l.trim() !== '' && !/^\s/.test(l))
    if (line) return line.trim()
  }
  const last = text.trimEnd().split(/\r?\n/).pop() ?? ''
  return /^[A-Za-z_][\w.]*(Error|Exception)(: .*)?$/.test(last) ? last : undefined
}

/** The host variables a run inherits (see HOST_ENVIRONMENT). */
export function hostEnvironment(host: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(host).filter(([name, value]) => value !== undefined && HOST_ENVIRONMENT.some(p => p.test(name.toUpperCase()))))
}

/** Changes a run's status and records the change. */
export function setStatus(run: RunRecord, status: RunStatus): void {
  run.status = status
  run.revision += 1
  run.statusHistory.push({ status, time: new Date().toISOString() })
}

/** The status a client sees: a hold's status while the hold lasts, else the real one. */
export function reportedStatus(run: RunRecord, now = Date.now()): RunStatus {
  return run.hold && now < run.hold.until ? run.hold.status : run.status
}
