import { context, getOctokit } from '@actions/github'
import type { IssueComments } from './report/pr-comment.js'

/**
 * The comments of the pull request this workflow runs for, through GitHub's REST API (octokit honours
 * GITHUB_API_URL, so GitHub Enterprise works). Undefined when the event is not about a pull request.
 * Part of the edge, with main.ts.
 */
export function pullRequestComments(token: string): IssueComments | undefined {
  const number = context.payload.pull_request?.number
  if (typeof number !== 'number' || !process.env.GITHUB_REPOSITORY) return undefined
  const octokit = getOctokit(token)
  const { owner, repo } = context.repo
  return {
    list: () => octokit.paginate(octokit.rest.issues.listComments, { owner, repo, issue_number: number, per_page: 100 }),
    create: async body => {
      await octokit.rest.issues.createComment({ owner, repo, issue_number: number, body })
    },
    update: async (id, body) => {
      await octokit.rest.issues.updateComment({ owner, repo, comment_id: id, body })
    }
  }
}
