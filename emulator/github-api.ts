import { randomBytes } from 'node:crypto'
import { json, readBody, type Reply, type RequestContext, type Route } from './http.js'

/** Where the stand-in for GitHub's REST API lives on the emulator's port (GITHUB_API_URL = url + this). */
export const GITHUB_API_PREFIX = '/_github/api'

/** A comment on an issue or pull request, as GitHub's REST API returns it (the fields clients use). */
export interface IssueComment {
  id: number
  body: string
  user: { login: string; type: string }
  created_at: string
  updated_at: string
  html_url: string
}

/**
 * The part of GitHub's REST API a workflow step uses to comment on its pull request: list, create and update
 * issue comments, with the job token's permission deciding what is allowed — `pull-requests: write` (or
 * `issues: write`) to write, as GitHub decides for GITHUB_TOKEN. Errors have GitHub's body
 * (`{"message": …, "documentation_url": …}`).
 */
export class GitHubApi {
  /** A token like the job's GITHUB_TOKEN. */
  readonly token = `ghs_${randomBytes(18).toString('base64url')}`
  /** What the token may do with comments: 'write' (default) or 'read'. */
  permission: 'read' | 'write' = 'write'
  private nextId = 1000
  private readonly comments = new Map<string, IssueComment[]>()

  /** The comments of an issue / pull request, oldest first. */
  list(repository: string, issue: number): IssueComment[] {
    return [...(this.comments.get(`${repository.toLowerCase()}#${issue}`) ?? [])]
  }

  routes(): Route[] {
    const route = (method: string, pattern: string, handler: (ctx: RequestContext) => Promise<Reply> | Reply): Route => ({
      method,
      pattern: `${GITHUB_API_PREFIX}${pattern}`,
      service: 'control',
      handler: ctx => this.authenticate(ctx) ?? handler(ctx)
    })
    return [
      route('GET', '/repos/{owner}/{repo}/issues/{number}/comments', ctx => {
        const all = this.thread(ctx)
        const perPage = Math.min(100, Math.max(1, Number(ctx.query.get('per_page') ?? 30) || 30))
        const page = Math.max(1, Number(ctx.query.get('page') ?? 1) || 1)
        const last = Math.max(1, Math.ceil(all.length / perPage))
        const headers: Record<string, string> = {}
        if (page < last) {
          const next = new URL(`${ctx.baseUrl}${ctx.path}`)
          next.searchParams.set('per_page', String(perPage))
          next.searchParams.set('page', String(page + 1))
          headers.Link = `<${next.toString()}>; rel="next"`
        }
        return json(200, all.slice((page - 1) * perPage, page * perPage), headers)
      }),
      route('POST', '/repos/{owner}/{repo}/issues/{number}/comments', async ctx => {
        const denied = this.writable('create-an-issue-comment')
        if (denied) return denied
        const body = await this.bodyOf(ctx)
        if (typeof body !== 'string') return githubError(422, 'Invalid request.\n\n"body" wasn\'t supplied.', 'create-an-issue-comment')
        const now = new Date().toISOString()
        const comment: IssueComment = {
          id: this.nextId++,
          body,
          user: { login: 'github-actions[bot]', type: 'Bot' },
          created_at: now,
          updated_at: now,
          html_url: `https://github.com/${ctx.params.owner}/${ctx.params.repo}/pull/${ctx.params.number}#issuecomment-${this.nextId}`
        }
        this.thread(ctx, true).push(comment)
        return json(201, comment)
      }),
      route('PATCH', '/repos/{owner}/{repo}/issues/comments/{id}', async ctx => {
        const denied = this.writable('update-an-issue-comment')
        if (denied) return denied
        const id = Number(ctx.params.id)
        const comment = [...this.comments.entries()]
          .filter(([key]) => key.startsWith(`${ctx.params.owner}/${ctx.params.repo}#`.toLowerCase()))
          .flatMap(([, list]) => list)
          .find(c => c.id === id)
        if (!comment) return githubError(404, 'Not Found', 'update-an-issue-comment')
        const body = await this.bodyOf(ctx)
        if (typeof body !== 'string') return githubError(422, 'Invalid request.\n\n"body" wasn\'t supplied.', 'update-an-issue-comment')
        comment.body = body
        comment.updated_at = new Date().toISOString()
        return json(200, comment)
      })
    ]
  }

  private thread(ctx: RequestContext, create = false): IssueComment[] {
    const key = `${ctx.params.owner}/${ctx.params.repo}#${Number(ctx.params.number)}`.toLowerCase()
    let list = this.comments.get(key)
    if (!list) {
      list = []
      if (create) this.comments.set(key, list)
    }
    return list
  }

  private authenticate(ctx: RequestContext): Reply | undefined {
    const header = ctx.req.headers.authorization ?? ''
    const given = /^(?:token|bearer)\s+(.+)$/i.exec(header)?.[1]
    if (given !== this.token) return githubError(401, 'Bad credentials', '')
    ctx.authenticatedAs = 'github-token'
    return undefined
  }

  private writable(doc: string): Reply | undefined {
    return this.permission === 'write' ? undefined : githubError(403, 'Resource not accessible by integration', doc)
  }

  private async bodyOf(ctx: RequestContext): Promise<unknown> {
    try {
      return (JSON.parse((await readBody(ctx.req, 1024 * 1024)).toString('utf8')) as { body?: unknown }).body
    } catch {
      return undefined
    }
  }
}

function githubError(status: number, message: string, doc: string): Reply {
  return json(status, { message, documentation_url: `https://docs.github.com/rest${doc ? `/issues/comments#${doc}` : ''}`, status: String(status) })
}
