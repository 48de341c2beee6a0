/**
 * The main job, end to end, with no Azure subscription: starts the local Azure ML service, runs the bundled
 * action (`node dist/index.js`, as the runner would) to train `examples/` on it, and prints the outputs
 * and the job summary. Then, unless `--train-only`, three short steps of the other kind of workflow: score
 * the deployed demo model, score the classic Studio web service through API Management, and run a classic
 * batch job whose input and output go through blob storage (Azurite).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { APIM_DEMO, CLASSIC_DEMO, DEMO_SERVICE, startAzurite, startEmulator, type Azurite, type Emulator } from '../emulator/index.js'
import { runAction, type ActionRun } from './action-runner.js'

const trainOnly = process.argv.includes('--train-only')
const emulator = await startEmulator({ port: 0 })
console.log(`Local Azure ML service at ${emulator.url}\n`)
let azurite: Azurite | undefined
try {
  const { identity } = emulator
  const result = await runAction(
    {
      operation: 'train',
      'azure-credentials': emulator.credentialsJson(),
      'resource-group': identity.resourceGroup,
      'workspace-name': identity.workspaceName,
      'experiment-name': 'demo-logistic-regression',
      'source-directory': 'examples',
      script: 'train.py',
      arguments: '--epochs\n20\n--learning-rate\n2.0',
      'compute-target': identity.compute,
      'run-tags': 'purpose=demo'
    },
    { onStdoutLine: line => showAsRunner(line) }
  )
  console.log('\n=== Outputs ($GITHUB_OUTPUT) ===')
  for (const [name, value] of Object.entries(result.outputs)) console.log(`${name} = ${value}`)
  console.log('\n=== Job summary ($GITHUB_STEP_SUMMARY) ===')
  console.log(result.summary)
  console.log(result.code === 0 ? 'The action succeeded.' : `The action failed (exit code ${result.code}).`)
  process.exitCode = result.code ?? 1
  if (result.code === 0 && !trainOnly) {
    azurite = await startAzurite()
    const failed = await scoringSteps(emulator, azurite)
    if (failed) process.exitCode = 1
  }
} finally {
  await azurite?.close()
  await emulator.close()
}

/** The scoring operations, one step each; returns whether any failed. */
async function scoringSteps(emulator: Emulator, storage: Azurite): Promise<boolean> {
  const service = emulator.services.byName(DEMO_SERVICE.name)!
  const classic = `${emulator.url}${APIM_DEMO.prefix}/workspaces/${CLASSIC_DEMO.workspaceId}/services/${CLASSIC_DEMO.serviceId}`
  const workspace = mkdtempSync(path.join(tmpdir(), 'azureml-demo-'))
  try {
    writeFileSync(path.join(workspace, 'reviews.csv'), 'Col2\n"This is a good day"\n"I loved this book"\n"The service was slow"\n')
    const steps: Array<{ title: string; inputs: Record<string, string>; show: (run: ActionRun) => string }> = [
      {
        title: `score: the deployed model ${DEMO_SERVICE.name}, with its key`,
        inputs: { operation: 'score', 'scoring-uri': `${emulator.url}/services/${DEMO_SERVICE.name}/score`, 'scoring-key': service.keys.primaryKey, 'scoring-data': '{"data": [[1.5, 1.2], [0.1, 0.2]]}' },
        show: run => `result = ${run.outputs.result}`
      },
      {
        title: `classic-score: ${CLASSIC_DEMO.name} (Request-Response) through API Management`,
        inputs: {
          operation: 'classic-score',
          'classic-service-url': classic,
          'classic-api-key': CLASSIC_DEMO.apiKey,
          'apim-subscription-key': APIM_DEMO.primaryKey,
          'classic-input': JSON.stringify({ Inputs: { input1: { ColumnNames: ['Col2'], Values: [['This is a good day']] } }, GlobalParameters: {} })
        },
        show: run => `result = ${run.outputs.result}`
      },
      {
        title: `classic-batch: ${CLASSIC_DEMO.name} (Batch Execution) through API Management, input and output in blob storage`,
        inputs: {
          operation: 'classic-batch',
          'classic-service-url': classic,
          'classic-api-key': CLASSIC_DEMO.apiKey,
          'apim-subscription-key': APIM_DEMO.primaryKey,
          'classic-input-file': 'reviews.csv',
          'storage-connection-string': storage.connectionString,
          'storage-container': 'demo-batch',
          'classic-output-directory': 'batch-output'
        },
        show: run => `job-id = ${run.outputs['job-id']}\nresult = ${run.outputs.result}\n${readFileSync(path.join(workspace, 'batch-output', 'output1.csv'), 'utf8').trim()}`
      }
    ]
    let failed = false
    for (const step of steps) {
      console.log(`\n=== ${step.title} ===`)
      const run = await runAction(step.inputs, { workspace })
      if (run.code === 0) console.log(step.show(run))
      else {
        failed = true
        console.log(`The action failed (exit code ${run.code}): ${run.errors.join('\n')}`)
      }
    }
    return failed
  } finally {
    rmSync(workspace, { recursive: true, force: true })
  }
}

/** Prints a line of the action's stdout the way the runner's log shows it (workflow commands rendered or hidden). */
function showAsRunner(line: string): void {
  const command = /^::([^: ]+)(?: [^:]*)?::(.*)$/.exec(line)
  if (!command) return console.log(line)
  const [, name, message] = command
  const text = message.replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%25/g, '%')
  if (name === 'group') console.log(`▼ ${text}`)
  else if (name === 'endgroup') console.log('▲')
  else if (name === 'error' || name === 'warning' || name === 'notice') console.log(`${name === 'error' ? 'Error' : name === 'warning' ? 'Warning' : 'Notice'}: ${text}`)
  // debug, add-mask, stop-commands and the resume token are not shown by the runner
}
