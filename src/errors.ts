/**
 * Errors the user is meant to read. Anything that is not an ActionError reaching the top level is a bug
 * and is reported with its stack in the debug log only.
 */
export class ActionError extends Error {
  /** What to do about it, printed after the message. */
  readonly hint?: string
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ActionError'
    this.hint = options?.hint
  }
}

/** Bad or missing input: names the input and says what is allowed. Raised before anything is sent. */
export class InputError extends ActionError {
  readonly input: string
  constructor(input: string, message: string, options?: { hint?: string }) {
    super(`Input '${input}': ${message}`, options)
    this.name = 'InputError'
    this.input = input
  }
}
