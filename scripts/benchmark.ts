/**
 * Speed and memory targets, checked here rather than in timed tests (which would be flaky on a busy CI):
 * - start-up: the bundled action fails bad input and exits in well under a second, and reaches its first
 *   request (the Azure AD token) well under a second after it is spawned;
 * - snapshot memory: zipping a 200 MB file does not hold it in memory (RSS grows by less than 100 MB);
 * - snapshot speed: 2000 small files are planned and zipped within a few seconds.
 * Usage: npm run benchmark   (exit code 1 when a target is missed)
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startEmulator } from '../emulator/index.js'
import { MemoryLogger } from '../src/logger.js'
import { createSnapshot } from '../src/snapshot/snapshot.js'
import { PROJECT_ROOT } from './action-runner.js'

interface Result {
  name: string
  value: number
  unit: string
  target: number
}
const results: Result[] = []

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** Spawns the bundle with these inputs; resolves with the time to exit, or to `until()` if given. */
function timeAction(inputs: Record<string, string>, until?: () => boolean): Promise<number> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v
  const started = performance.now()
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist/index.js')], { env, stdio: 'ignore', cwd: PROJECT_ROOT })
  return new Promise(resolve => {
    let timer: NodeJS.Timeout | undefined
    let measured: number | undefined
    if (until) {
      timer = setInterval(() => {
        if (!until()) return
        clearInterval(timer)
        measured = performance.now() - started
        // SIGKILL, not SIGTERM (the action would cancel what it started), and resolve only once it is gone:
        // a request of this run arriving late must not count as the next run's first.
        child.kill('SIGKILL')
      }, 2)
    }
    child.on('exit', () => {
      clearInterval(timer)
      resolve(measured ?? performance.now() - started)
    })
  })
}

// Start-up to an input error (no network at all).
const exits: number[] = []
for (let i = 0; i < 7; i++) exits.push(await timeAction({ operation: 'no-such-operation' }))
results.push({ name: 'bad input → exit (median of 7)', value: median(exits), unit: 'ms', target: 1000 })

// Start-up to the first request of a train against the local Azure ML service.
const emulator = await startEmulator({ port: 0 })
const firstRequest: number[] = []
for (let i = 0; i < 5; i++) {
  const before = emulator.requests.length
  firstRequest.push(
    await timeAction(
      {
        'azure-credentials': emulator.credentialsJson(),
        'resource-group': emulator.identity.resourceGroup,
        'workspace-name': emulator.identity.workspaceName,
        'experiment-name': 'benchmark',
        'source-directory': 'examples',
        script: 'train.py',
        'compute-target': emulator.identity.compute
      },
      () => emulator.requests.length > before
    )
  )
}
await emulator.close()
results.push({ name: 'spawn → first request (median of 5)', value: median(firstRequest), unit: 'ms', target: 1000 })

// Snapshot memory with a 200 MB file (sparse: no disk used, reads as zeros).
const big = mkdtempSync(path.join(tmpdir(), 'bench-big-'))
writeFileSync(path.join(big, 'train.py'), 'print(1)\n')
writeFileSync(path.join(big, 'weights.bin'), '')
truncateSync(path.join(big, 'weights.bin'), 200 * 1024 * 1024)
global.gc?.()
const rssBefore = process.memoryUsage().rss
let peak = rssBefore
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5)
const bigSnapshot = await createSnapshot(big, new MemoryLogger())
clearInterval(sampler)
await bigSnapshot.dispose()
rmSync(big, { recursive: true, force: true })
results.push({ name: 'snapshot of a 200 MB file: RSS growth', value: Math.round((peak - rssBefore) / 1048576), unit: 'MB', target: 100 })

// Snapshot speed with Azure ML's maximum of 2000 files.
const many = mkdtempSync(path.join(tmpdir(), 'bench-many-'))
for (let d = 0; d < 20; d++) {
  mkdirSync(path.join(many, `d${d}`))
  for (let f = 0; f < 100; f++) writeFileSync(path.join(many, `d${d}`, `f${f}.py`), `x = ${f}\n`.repeat(20))
}
const started = performance.now()
const manySnapshot = await createSnapshot(many, new MemoryLogger())
results.push({ name: 'snapshot of 2000 small files', value: Math.round(performance.now() - started), unit: 'ms', target: 5000 })
await manySnapshot.dispose()
rmSync(many, { recursive: true, force: true })

let missed = 0
console.log('| measure | value | target | |\n|---|---|---|---|')
for (const r of results) {
  const ok = r.value <= r.target
  if (!ok) missed++
  console.log(`| ${r.name} | ${Math.round(r.value)} ${r.unit} | ≤ ${r.target} ${r.unit} | ${ok ? 'ok' : 'MISSED'} |`)
}
process.exitCode = missed ? 1 : 0
