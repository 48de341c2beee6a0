import { StringDecoder } from 'node:string_decoder'
import type { ArtifactClient, RunContainer } from '../azureml/artifacts.js'
import { DRIVER_LOG_PATH } from '../constants.js'
import { AzureRequestError } from '../http/errors.js'
import type { Logger } from '../logger.js'
import { cleanLine, printUntrusted, scrubSecrets } from './log-text.js'

const TAIL_LINES = 30

/**
 * Follows a run's driver log as it grows: each `poll()` reads only the new bytes (a Range request on the
 * blob), prints complete lines safely, and keeps the last lines for the failure message. A log that does
 * not exist yet is not an error; neither is a failed read — the run matters more than its log.
 */
export class DriverLogTail {
  private contentUri?: string
  private offset = 0
  private partial = ''
  private readonly decoder = new StringDecoder('utf8')
  private readonly last: string[] = []
  private warned = false

  constructor(
    private readonly artifacts: ArtifactClient,
    private readonly run: RunContainer,
    private readonly logger: Logger,
    private readonly path = DRIVER_LOG_PATH
  ) {}

  /** Reads and prints what was appended since the last poll. */
  async poll(): Promise<void> {
    try {
      this.contentUri ??= await this.artifacts.contentUri(this.run, this.path)
      if (!this.contentUri) return
      let bytes: Buffer
      try {
        bytes = await this.artifacts.readFrom(this.contentUri, this.offset)
      } catch (error) {
        // The SAS URL expired: ask for a new one once.
        if (!(error instanceof AzureRequestError && error.status === 403)) throw error
        this.contentUri = await this.artifacts.contentUri(this.run, this.path)
        if (!this.contentUri) return
        bytes = await this.artifacts.readFrom(this.contentUri, this.offset)
      }
      if (bytes.length === 0) return
      this.offset += bytes.length
      const text = this.partial + this.decoder.write(bytes)
      const lines = text.split('\n')
      this.partial = lines.pop() ?? ''
      this.emit(lines)
    } catch (error) {
      if (!this.warned) {
        this.warned = true
        this.logger.warning(`Could not read the driver log (${(error as Error).message}); the run is still being followed.`)
      }
    }
  }

  /** Prints a last line that had no newline. */
  flush(): void {
    const rest = this.partial + this.decoder.end()
    this.partial = ''
    if (rest) this.emit([rest])
  }

  /** The last lines of the log, cleaned and scrubbed, for a failure message. */
  tail(): string[] {
    return [...this.last]
  }

  private emit(lines: string[]): void {
    // Tokens and keys the script printed are hidden in the step log too, not only in the failure message.
    const clean = lines.map(line => scrubSecrets(cleanLine(line)))
    printUntrusted(this.logger, clean)
    for (const line of clean) {
      this.last.push(line)
      if (this.last.length > TAIL_LINES) this.last.shift()
    }
  }
}
