/**
 * The main job, end to end, with no Azure subscription: starts the local Azure ML service, runs the bundled
 * action (`node dist/index.js`, as the runner would) to train `examples/` on it, and prints the outputs
 * and the job summary.
 */
import { startEmulator } from '../emulator/index.js'
import { runAction } from './action-runner.js'

const emulator = await startEmulator({ port: 0 })
console.log(`Local Azure ML service at ${emulator.url}\n`)
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
} finally {
  await emulator.close()
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
