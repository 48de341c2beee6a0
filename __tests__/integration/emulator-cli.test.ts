/**
 * `npm run emulator -- --azurite`: what it prints is enough to try score, classic-score and classic-batch —
 * each printed value is used as a user would, against the running CLI.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { describe, it } from 'node:test'
import { BlobServiceClient } from '@azure/storage-blob'
import { PROJECT_ROOT } from '../../scripts/action-runner.js'

/** The value printed after `name:` (the first such line). */
function printed(text: string, name: string, nth = 0): string {
  const values = [...text.matchAll(new RegExp(`^\\s*${name}: (\\S+)`, 'gm'))].map(m => m[1])
  assert.ok(values[nth], `the CLI prints ${name}:\n${text}`)
  return values[nth]
}

describe('emulator CLI', () => {
  it('prints the scorer, the classic service, the API Management gateway and (with --azurite) a storage connection string that all work', async () => {
    const cli = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'emulator/cli.ts'), '--port', '0', '--azurite', '--quiet'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<number | null>(resolve => cli.once('exit', code => resolve(code)))
    try {
      let out = ''
      cli.stdout.setEncoding('utf8')
      await new Promise<void>((resolve, reject) => {
        cli.stdout.on('data', (chunk: string) => {
          out += chunk
          if (out.includes('Ctrl+C to stop')) resolve()
        })
        cli.once('exit', code => reject(new Error(`the CLI exited (${code}) before it was ready:\n${out}`)))
      })

      const score = await fetch(printed(out, 'scoring-uri'), {
        method: 'POST',
        headers: { Authorization: `Bearer ${printed(out, 'scoring-key')}`, 'Content-Type': 'application/json' },
        body: '{"data": [[1.5, 1.2], [0, 0]]}'
      })
      assert.equal(score.status, 200)
      assert.deepEqual(((await score.json()) as { predictions: number[] }).predictions, [1, 0])

      const rrs = JSON.stringify({ Inputs: { input1: { ColumnNames: ['Col2'], Values: [['This is a good day']] } }, GlobalParameters: {} })
      const apiKey = printed(out, 'classic-api-key')
      const direct = await fetch(`${printed(out, 'classic-service-url')}/execute?api-version=2.0&details=true`, { method: 'POST', headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' }, body: rrs })
      assert.equal(direct.status, 200)
      const gateway = await fetch(`${printed(out, 'classic-service-url', 1)}/execute?api-version=2.0&details=true`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${apiKey}`, 'Ocp-Apim-Subscription-Key': printed(out, 'apim-subscription-key'), 'Content-Type': 'application/json' },
        body: rrs
      })
      assert.equal(gateway.status, 200)

      const container = BlobServiceClient.fromConnectionString(printed(out, 'storage-connection-string')).getContainerClient('cli-check')
      await container.create()
      await container.getBlockBlobClient('x.csv').upload('Col2\nhi\n', 8)
      assert.equal(await container.getBlockBlobClient('x.csv').exists(), true)
    } finally {
      cli.kill('SIGINT')
    }
    assert.equal(await exited, 0, 'Ctrl+C stops the service and Azurite')
  })
})
