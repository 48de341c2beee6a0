import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { AccountSASPermissions, generateAccountSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob'

/** Azurite's well-known development account (the same on every machine; it opens only the local emulator). */
export const DEVSTORE_ACCOUNT = {
  name: 'devstoreaccount1',
  key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
} as const

/** How to start Azurite's blob service. */
export interface AzuriteOptions {
  /** Port of the blob service; 0 (the default) picks a free one. */
  blobPort?: number
  /** Interface to listen on (default 127.0.0.1). */
  host?: string
  /** How long to wait for it to listen (default 60 s: a loaded CI machine is slow to start it). */
  startTimeoutMs?: number
  /** Receives Azurite's stderr lines. */
  log?: (line: string) => void
  /** Serve https with this key and certificate (PEM files) instead of http. */
  tls?: { keyFile: string; certFile: string }
}

/** A running Azurite blob service. */
export interface Azurite {
  /** A connection string for the development account (path-style endpoint, as Azurite serves it). */
  readonly connectionString: string
  /** `http://host:port/devstoreaccount1`, no trailing slash. */
  readonly blobEndpoint: string
  readonly accountName: string
  readonly accountKey: string
  /**
   * A connection string with an account SAS instead of the key (`BlobEndpoint=…;SharedAccessSignature=…`):
   * read, write, delete, list, add and create on the blob service, its containers and blobs, for `hours`.
   */
  sasConnectionString(hours?: number): string
  /** Stops the process and removes its working folder. */
  close(): Promise<void>
}

/**
 * Starts Microsoft's storage emulator (the `azurite-blob` of the pinned devDependency; 3.35 is the last one
 * that runs on Node 20) in memory, on loopback, and resolves once it listens. It is a child process rather
 * than an in-process server so that its many dependencies stay out of the emulator's own module graph.
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const script = azuriteBlobScript()
  const host = options.host ?? '127.0.0.1'
  // In-memory persistence keeps no data on disk, but Azurite still writes its lock/debug files to the cwd.
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'azurite-'))
  const args = [
    script,
    '--blobHost',
    host,
    '--blobPort',
    String(options.blobPort ?? 0),
    '--inMemoryPersistence',
    '--extentMemoryLimit',
    '256',
    // Clients newer than this Azurite send x-ms-version values it does not know yet.
    '--skipApiVersionCheck',
    '--disableTelemetry',
    '--silent',
    ...(options.tls ? ['--cert', options.tls.certFile, '--key', options.tls.keyFile] : [])
  ]
  // Custom accounts from the environment would change what the well-known connection string opens.
  const env = { ...process.env }
  delete env.AZURITE_ACCOUNTS
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env })
  // A test process that dies without close() must not leave Azurite behind.
  const killOnExit = (): void => {
    child.kill('SIGKILL')
  }
  process.once('exit', killOnExit)
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))

  let port: number
  try {
    port = await new Promise<number>((resolve, reject) => {
      let stdout = ''
      let stderr = ''
      const timer = setTimeout(() => reject(new Error(`Azurite did not listen within ${options.startTimeoutMs ?? 60000} ms.\n${stdout}${stderr}`)), options.startTimeoutMs ?? 60000)
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
        const match = /successfully listens on https?:\/\/[^\s]*:(\d+)/.exec(stdout)
        if (match) {
          clearTimeout(timer)
          resolve(Number(match[1]))
        }
      })
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk
        for (const line of chunk.split('\n')) if (line.trim()) options.log?.(line)
      })
      child.once('error', err => {
        clearTimeout(timer)
        reject(err)
      })
      child.once('exit', code => {
        clearTimeout(timer)
        reject(new Error(`Azurite exited (code ${code}) before listening.\n${stdout}${stderr}`))
      })
    })
  } catch (err) {
    process.off('exit', killOnExit)
    child.kill('SIGKILL')
    await exited
    await rm(cwd, { recursive: true, force: true })
    throw err
  }
  // Keep reading so that a chatty Azurite never blocks on a full pipe.
  child.stdout.resume()

  const blobEndpoint = `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}/${DEVSTORE_ACCOUNT.name}`
  let closing: Promise<void> | undefined
  return {
    connectionString: `DefaultEndpointsProtocol=${options.tls ? 'https' : 'http'};AccountName=${DEVSTORE_ACCOUNT.name};AccountKey=${DEVSTORE_ACCOUNT.key};BlobEndpoint=${blobEndpoint};`,
    blobEndpoint,
    accountName: DEVSTORE_ACCOUNT.name,
    accountKey: DEVSTORE_ACCOUNT.key,
    sasConnectionString: (hours = 24) => {
      const sas = generateAccountSASQueryParameters(
        { services: 'b', resourceTypes: 'sco', permissions: AccountSASPermissions.parse('rwdlac'), expiresOn: new Date(Date.now() + hours * 3600_000) },
        new StorageSharedKeyCredential(DEVSTORE_ACCOUNT.name, DEVSTORE_ACCOUNT.key)
      )
      return `BlobEndpoint=${blobEndpoint};SharedAccessSignature=${sas.toString()}`
    },
    close: () =>
      (closing ??= (async () => {
        process.off('exit', killOnExit)
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM')
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
          await exited
          clearTimeout(timer)
        }
        await rm(cwd, { recursive: true, force: true, maxRetries: 3 })
      })())
  }
}

/** The path of the installed `azurite-blob` entry point, or an error saying how to install it. */
function azuriteBlobScript(): string {
  const require = createRequire(import.meta.url)
  let manifest: string
  try {
    manifest = require.resolve('azurite/package.json')
  } catch {
    throw new Error('Azurite is not installed: it is a devDependency of this project (npm ci installs it).')
  }
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> }
  return path.join(path.dirname(manifest), bin['azurite-blob'])
}
