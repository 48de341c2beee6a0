/**
 * The small logging surface the core modules use instead of @actions/core, so they run unchanged in
 * tests, against the local Azure ML service and on a runner. The edge (main.ts) implements it with
 * @actions/core; tests implement it with an in-memory recorder.
 */
export interface Logger {
  info(message: string): void
  warning(message: string): void
  notice(message: string): void
  debug(message: string): void
  /** Whether debug output is shown (`ACTIONS_STEP_DEBUG` / `RUNNER_DEBUG`). */
  isDebug(): boolean
  startGroup(title: string): void
  endGroup(): void
  /** Registers a value that must never appear in any log line (`::add-mask::`). */
  mask(secret: string): void
}

/** A logger that records everything; for tests and for capturing output of a sub-step. */
export class MemoryLogger implements Logger {
  readonly lines: string[] = []
  readonly masked: string[] = []
  constructor(private readonly debugEnabled = false) {}
  info(message: string): void {
    this.lines.push(message)
  }
  warning(message: string): void {
    this.lines.push(`warning: ${message}`)
  }
  notice(message: string): void {
    this.lines.push(`notice: ${message}`)
  }
  debug(message: string): void {
    if (this.debugEnabled) this.lines.push(`debug: ${message}`)
  }
  isDebug(): boolean {
    return this.debugEnabled
  }
  startGroup(title: string): void {
    this.lines.push(`group: ${title}`)
  }
  endGroup(): void {
    this.lines.push('endgroup')
  }
  mask(secret: string): void {
    if (secret) this.masked.push(secret)
  }
  text(): string {
    return this.lines.join('\n')
  }
}
