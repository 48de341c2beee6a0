/**
 * `npm run emulator`: starts the local Azure ML service in the foreground, prints how to point the action
 * at it, and stays up until Ctrl+C (SIGINT) or SIGTERM.
 */
import { parseArgs } from 'node:util'
import { startAzurite, type Azurite } from './azurite.js'
import { parseFaultFlag } from './faults.js'
import { APIM_DEMO, CLASSIC_DEMO, DEMO_SERVICE, EMULATED_CLOUDS, startEmulator, type EmulatedCloudName, type Emulator } from './index.js'
import { DEMO_TEXT_SERVICE, scoringPath } from './services.js'

const USAGE = `Usage: npm run emulator -- [--port N] [--cloud NAME] [--azure-host-names] [--token-lifetime SECONDS] [--id-token-lifetime SECONDS]
                            [--run-phase-delay MS] [--provisioning-delay MS] [--fault 'METHOD PATH_REGEX KIND[:ARG][:OPTION] TIMES']... [--azurite] [--quiet]
  --port                port on 127.0.0.1 (default 8765; 0 picks a free one)
  --cloud               the cloud to stand in for: ${EMULATED_CLOUDS.join(', ')} (default AzureCloud)
  --azure-host-names    also answer on the cloud's real host names (login.microsoftonline.com, management.azure.com, …)
                        over TLS, through a forward proxy: the action then needs no endpoint inputs (needs openssl)
  --token-lifetime      lifetime of Azure AD tokens in seconds (default 3599)
  --id-token-lifetime   lifetime of GitHub OIDC ID tokens in seconds (default 300)
  --run-phase-delay     pause between run status phases in ms (default 150)
  --provisioning-delay  how long workspace and compute creation take on ARM, in ms (default 1500)
  --fault               inject a fault, e.g. --fault 'GET /runs/ status:503 2' or --fault '* /oauth2/ reset 1'
                        (kinds: status[:CODE], reset, delay:MS, hang, html[:CODE], truncated; METHOD * = any;
                        options: :retry-after=SECONDS, :retry-after-ms=MS, :after-handling (reset, hang: the request
                        takes effect, its answer is lost); a 429 without a retry option sends Retry-After: 1, as ARM does)
  --azurite             also start Azurite (Microsoft's storage emulator, a devDependency) on a free port and print its
                        connection string, for classic-batch's upload and download
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
      'id-token-lifetime': { type: 'string' },
      cloud: { type: 'string' },
      'azure-host-names': { type: 'boolean' },
      'run-phase-delay': { type: 'string' },
      'provisioning-delay': { type: 'string' },
      fault: { type: 'string', multiple: true },
      azurite: { type: 'boolean' },
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
  const cloud = values.cloud === undefined ? undefined : EMULATED_CLOUDS.find(c => c.toLowerCase() === values.cloud?.toLowerCase())
  if (values.cloud !== undefined && !cloud) throw new Error(`--cloud must be one of ${EMULATED_CLOUDS.join(', ')}, got '${values.cloud}'`)
  const emulator = await startEmulator({
    port: integer('port', values.port, 8765),
    cloud: cloud as EmulatedCloudName | undefined,
    azureHostNames: values['azure-host-names'] ?? false,
    tokenLifetimeSeconds: integer('token-lifetime', values['token-lifetime'], 3599),
    idTokenLifetimeSeconds: integer('id-token-lifetime', values['id-token-lifetime'], 300),
    runPhaseDelayMs: integer('run-phase-delay', values['run-phase-delay'], 150),
    provisioningDelayMs: integer('provisioning-delay', values['provisioning-delay'], 1500),
    log: values.quiet ? undefined : line => console.log(`  ${new Date().toISOString().slice(11, 23)} ${line}`)
  })
  for (const fault of faults) emulator.faults.add(fault)
  let azurite: Azurite | undefined
  try {
    azurite = values.azurite ? await startAzurite() : undefined
  } catch (err) {
    await emulator.close()
    throw err
  }
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
${
  emulator.azureHostNames
    ? `  (no authority-host or resource-manager-endpoint: set the environment below${cloud && cloud !== 'AzureCloud' ? `, and cloud: ${cloud}` : ''})`
    : `  authority-host: ${emulator.url}\n  resource-manager-endpoint: ${emulator.url}`
}
  resource-group: ${id.resourceGroup}
  workspace-name: ${id.workspaceName}
  compute-target: ${id.compute}
${
  emulator.azureHostNames
    ? `\nAzure's host names (through a forward proxy to this service, trusting its test CA):\n  HTTPS_PROXY=${emulator.azureHostNames.proxyUrl}\n  NODE_EXTRA_CA_CERTS=${emulator.azureHostNames.caFile}\n`
    : ''
}
Sign in with GitHub OIDC instead of the secret (tenant-id and client-id inputs, no client-secret), as the job
octo-org/ml-repo on refs/heads/main, which the app's federated credential trusts:
  ACTIONS_ID_TOKEN_REQUEST_URL=${emulator.oidc.demoJob.requestUrl}
  ACTIONS_ID_TOKEN_REQUEST_TOKEN=${emulator.oidc.demoJob.requestToken}
${scoringHelp(emulator, azurite)}${faults.length ? `\nArmed faults: ${faults.map(f => `${f.method ?? '*'} ${f.path} ${f.kind}${f.status ? `:${f.status}` : ''} x${f.times}`).join('; ')}\n` : ''}
Control API: ${emulator.url}/_emulator/ (faults, config, requests, runs/{runId}/hold, github/jobs, federated-credentials). Ctrl+C to stop.
`)
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    console.log(`\n${signal}: stopping the local Azure ML service…`)
    Promise.all([emulator.close(), azurite?.close()]).then(
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

/** What to give `score`, `classic-score` and `classic-batch` to try them against this service. */
function scoringHelp(emulator: Emulator, azurite: Azurite | undefined): string {
  const scorer = (name: string): string => {
    const service = emulator.services.byName(name)
    if (!service) return `  (no service named ${name})`
    return `  scoring-uri: ${emulator.url}${scoringPath(service)}\n  scoring-key: ${service.keys.primaryKey}   (secondary: ${service.keys.secondaryKey})`
  }
  const classicPath = `/workspaces/${CLASSIC_DEMO.workspaceId}/services/${CLASSIC_DEMO.serviceId}`
  return `
score — the deployed model ${DEMO_SERVICE.name} (JSON in, JSON out), e.g. scoring-data: '{"data": [[1.5, 1.2], [0, 0]]}':
${scorer(DEMO_SERVICE.name)}
  (or service-name: ${DEMO_SERVICE.name} with the workspace inputs; ${DEMO_TEXT_SERVICE.name} answers CSV text instead:
${scorer(DEMO_TEXT_SERVICE.name).replace(/^/gm, '  ')})

classic-score / classic-batch — the classic web service ${CLASSIC_DEMO.name} (input column ${CLASSIC_DEMO.inputColumn}):
  classic-service-url: ${emulator.url}${classicPath}
  classic-api-key: ${CLASSIC_DEMO.apiKey}
  e.g. classic-input: '{"Inputs": {"${CLASSIC_DEMO.inputName}": {"ColumnNames": ["${CLASSIC_DEMO.inputColumn}"], "Values": [["This is a good day"]]}}, "GlobalParameters": {}}'
Through API Management:
  classic-service-url: ${emulator.url}${APIM_DEMO.prefix}${classicPath}
  apim-subscription-key: ${APIM_DEMO.primaryKey}   (secondary: ${APIM_DEMO.secondaryKey})
${
  azurite
    ? `Blob storage for classic-batch (Azurite at ${azurite.blobEndpoint}):\n  storage-connection-string: ${azurite.connectionString}\n  storage-container: batch   (any name; created on upload)\n`
    : '  (classic-batch uploads and downloads need blob storage: add --azurite to start Azurite too)\n'
}`
}

main().catch(err => {
  console.error(`emulator: ${(err as Error).message}`)
  console.error(USAGE)
  process.exit(2)
})
