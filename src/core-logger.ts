import * as core from '@actions/core'
import type { Logger } from './logger.js'

/** The Logger on a runner: @actions/core's commands. Part of the edge, with main.ts and post.ts. */
export function coreLogger(): Logger {
  return {
    info: message => core.info(message),
    warning: message => core.warning(message),
    notice: message => core.notice(message),
    debug: message => core.debug(message),
    isDebug: () => core.isDebug(),
    startGroup: title => core.startGroup(title),
    endGroup: () => core.endGroup(),
    mask: secret => core.setSecret(secret)
  }
}
