/**
 * `npm run emulator`: starts the local Azure ML service in the foreground, prints how to point the action
 * at it, and stays up until Ctrl+C (SIGINT) or SIGTERM.
 */
import { parseArgs } from 'node:util'
import { parseFaultFlag } from './faults.js'
import { startEmulator } from './index.js'

const USAGE = `Usage: npm run emulator -- [--port N] [--token-lifetime SECONDS] [--run-phase-delay MS] [--provisioning-delay MS]
                            [--fault 'METHOD PATH_REGEX KIND[:STATUS] TIMES']... [--quiet]
  --port                port on 127.0.0.1 (default 8765; 0 picks a free one)
  --token-lifetime      lifetime of Azure AD tokens in seconds (default 3599)
  --run-phase-delay     pause between run status phases in ms (default 150)
  --provisioning-delay  how long workspace and compute creation take on ARM, in ms (default 1500)
  --fault               inject a fault, e.g. --fault 'GET /runs/ status:503 2' or --fault '* /oauth2/ reset 1'
                        (kinds: status[:CODE], reset, delay:MS, hang, html[:CODE], truncated; METHOD * = any)
  --quiet               do not print a line per request`

function integer(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  if (!/^\d+$/.test(raw)) throw new Error(`--${name} must be a non-negative integer, got '${raw}'`)
  return Number(raw)
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'token-lifetime': { type: 'string' },
      'run-phase-delay': { type: 'string' },
      'provisioning-delay': { type: 'string' },
      fault: { type: 'string', multiple: true },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' }
    },
    strict: true
  })
  if (values.help) {
    console.log(USAGE)
    return
  }
  const faults = (values.fault ?? []).map(parseFaultFlag)
  const emulator = await startEmulator({
    port: integer('port', values.port, 8765),
    tokenLifetimeSeconds: integer('token-lifetime', values['token-lifetime'], 3599),
    runPhaseDelayMs: integer('run-phase-delay', values['run-phase-delay'], 150),
    provisioningDelayMs: integer('provisioning-delay', values['provisioning-delay'], 1500),
    log: values.quiet ? undefined : line => console.log(`  ${new Date().toISOString().slice(11, 23)} ${line}`)
  })
  for (const fault of faults) emulator.faults.add(fault)
  const id = emulator.identity
  console.log(`Local Azure ML service listening on ${emulator.url}

Demo identity (it only opens this local service):
  tenant id        ${id.tenantId}
  client id        ${id.clientId}
  client secret    ${id.clientSecret}
  subscription id  ${id.subscriptionId}
  resource group   ${id.resourceGroup}
  workspace        ${id.workspaceName}
  compute target   ${id.compute}
  (a principal without any role: client id ${id.noRole.clientId}, secret ${id.noRole.clientSecret})

azure-credentials:
${emulator.credentialsJson()}

Action inputs:
  authority-host: ${emulator.url}
  resource-manager-endpoint: ${emulator.url}
  resource-group: ${id.resourceGroup}
  workspace-name: ${id.workspaceName}
  compute-target: ${id.compute}
${faults.length ? `\nArmed faults: ${faults.map(f => `${f.method ?? '*'} ${f.path} ${f.kind}${f.status ? `:${f.status}` : ''} x${f.times}`).join('; ')}\n` : ''}
Control API: ${emulator.url}/_emulator/ (faults, config, requests, runs/{runId}/hold). Ctrl+C to stop.
`)
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    console.log(`\n${signal}: stopping the local Azure ML service…`)
    emulator.close().then(
      () => process.exit(0),
      err => {
        console.error(err)
        process.exit(1)
      }
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

main().catch(err => {
  console.error(`emulator: ${(err as Error).message}`)
  console.error(USAGE)
  process.exit(2)
})
