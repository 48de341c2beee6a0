import type { Logger } from '../logger.js'

/** The comments of one pull request (GitHub's issue comments API). */
export interface IssueComments {
  list(): Promise<{ id: number; body?: string | null }[]>
  create(body: string): Promise<void>
  update(id: number, body: string): Promise<void>
}

/**
 * Keeps one comment per experiment on the pull request up to date with the latest run's summary: the comment
 * carries a hidden marker, so a new push edits it instead of adding another.
 */
export async function upsertRunComment(comments: IssueComments, experiment: string, summary: string, logger: Logger): Promise<'created' | 'updated'> {
  const marker = `<!-- azureml-action experiment=${experiment.replace(/-->/g, '')} -->`
  const body = `${summary.trim()}\n\n${marker}\n`
  const existing = (await comments.list()).find(c => c.body?.includes(marker))
  if (existing) {
    await comments.update(existing.id, body)
    logger.info(`Updated the pull request comment for experiment '${experiment}'.`)
    return 'updated'
  }
  await comments.create(body)
  logger.info(`Commented on the pull request with the results of experiment '${experiment}'.`)
  return 'created'
}
