/**
 * End-to-end helpers: the local Azure ML service in-process, the bundled action spawned as the runner does,
 * and throw-away workspaces with training code in them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Emulator } from '../../emulator/index.js'
import { runAction, type ActionOptions, type ActionRun } from '../../scripts/action-runner.js'

/** The inputs that point the action at the local Azure ML service's demo workspace. */
export function workspaceInputs(emulator: Emulator): Record<string, string> {
  return {
    'azure-credentials': emulator.credentialsJson(),
    'resource-group': emulator.identity.resourceGroup,
    'workspace-name': emulator.identity.workspaceName
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

/** Runs the bundled action; the requests it made to the emulator are returned with the result. */
export async function runAgainst(emulator: Emulator, inputs: Record<string, string>, options: ActionOptions = {}): Promise<ActionRun & { requests: Emulator['requests'] }> {
  const before = emulator.requests.length
  const result = await runAction({ ...workspaceInputs(emulator), ...inputs }, options)
  return { ...result, requests: emulator.requests.slice(before) }
}

/** The `::error::` messages joined, for assertions. */
export function errorText(run: ActionRun): string {
  return run.errors.join('\n')
}
