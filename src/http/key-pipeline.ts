import { resolveCloud } from '../clouds.js'
import type { Logger } from '../logger.js'
import { HostPolicy } from './host-policy.js'
import { Pipeline, type PipelineOptions } from './pipeline.js'

/**
 * A pipeline for calls that carry keys, not Azure AD tokens (scoring endpoints, classic web services, batch
 * outputs): the same retries, errors and transport policy (https, or http to loopback), and never a token.
 */
export function keyPipeline(ctx: { logger: Logger; now?: () => number; pipeline?: Partial<Omit<PipelineOptions, 'logger' | 'hostPolicy'>> }): Pipeline {
  return new Pipeline({ now: ctx.now, ...ctx.pipeline, logger: ctx.logger, hostPolicy: new HostPolicy(resolveCloud('AzureCloud')) })
}
