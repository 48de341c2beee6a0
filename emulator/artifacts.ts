import { artifactJson, artifactStat, checkArtifactPath, type StoredArtifact } from './artifact-store.js'
import { queryParam, nextLink, resolveWorkspace, workspacePrefix, type DataPlaneDeps } from './data-plane.js'
import { dataPlaneError } from './errors.js'
import { json, readBody, type Reply, type RequestContext, type Route } from './http.js'
import { paginate } from './paging.js'
import type { Workspace } from './state.js'

const READ = 'Microsoft.MachineLearningServices/workspaces/artifacts/read'
const WRITE = 'Microsoft.MachineLearningServices/workspaces/artifacts/write'

/** The artifact service (`artifact/v2.0`): list, metadata, content info (SAS URLs), download and upload. */
export function artifactRoutes(deps: DataPlaneDeps): Route[] {
  const A = `${workspacePrefix('artifact/v2.0')}/artifacts/{origin}/{container}`
  const route = (method: string, pattern: string, handler: (ctx: RequestContext) => Reply | Promise<Reply>): Route => ({ method, pattern, service: 'dataPlane', handler })
  // A run's own token may touch its own container (dcid.{runId}) and nothing else.
  const ownRun = (ctx: RequestContext): string | undefined => (ctx.params.container.startsWith('dcid.') ? ctx.params.container.slice(5) : undefined)
  return [
    route('GET', A, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ, ownRun(ctx))
      return artifactPage(deps, ctx, ws, ctx.params.origin, ctx.params.container)
    }),
    route('GET', `${A}/metadata`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ, ownRun(ctx))
      return artifactMetadata(deps, ctx, ws, ctx.params.origin, ctx.params.container)
    }),
    route('GET', `${A}/contentinfo`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ, ownRun(ctx))
      return artifactContentInfo(deps, ctx, ws, ctx.params.origin, ctx.params.container)
    }),
    route('GET', `${A}/prefix/contentinfo`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ, ownRun(ctx))
      const { origin, container } = ctx.params
      const all = deps.artifacts.list(ws.workspaceId, origin, container, queryParam(ctx, 'path') ?? '')
      const page = paginate(all, queryParam(ctx, 'continuationToken', '$continuationtoken'), deps.settings.pageSize)
      return json(200, {
        value: page.items.map(a => contentInfoJson(deps, ctx, ws, a)),
        continuationToken: page.next,
        nextLink: nextLink(ctx, 'continuationToken', page.next)
      })
    }),
    route('GET', `${A}/content`, ctx => {
      const { ws } = resolveWorkspace(deps, ctx, READ, ownRun(ctx))
      const artifact = requireArtifact(deps, ws, ctx.params.origin, ctx.params.container, checkArtifactPath(queryParam(ctx, 'path')))
      const { size } = artifactStat(artifact)
      return { status: 200, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) }, body: { file: artifact.file, start: 0, end: size } }
    }),
    route('POST', `${A}/content`, async ctx => {
      const { ws } = resolveWorkspace(deps, ctx, WRITE, ownRun(ctx))
      const artifactPath = checkArtifactPath(queryParam(ctx, 'path'))
      const body = await readBody(ctx.req, deps.settings.maxUploadBytes)
      const artifact = await deps.artifacts.write(ws.workspaceId, ctx.params.origin, ctx.params.container, artifactPath, body, {
        overwrite: flag(queryParam(ctx, 'allowOverwrite')),
        append: flag(queryParam(ctx, 'append'))
      })
      return json(200, artifactJson(artifact))
    })
  ]
}

/** A page of a container's artifacts (PaginatedArtifactList), filtered by the `path` prefix. */
export function artifactPage(deps: DataPlaneDeps, ctx: RequestContext, ws: Workspace, origin: string, container: string): Reply {
  const all = deps.artifacts.list(ws.workspaceId, origin, container, queryParam(ctx, 'path') ?? '')
  const page = paginate(all, queryParam(ctx, 'continuationToken', '$continuationtoken'), deps.settings.pageSize)
  return json(200, { value: page.items.map(artifactJson), continuationToken: page.next, nextLink: nextLink(ctx, 'continuationToken', page.next) })
}

/** The Artifact of `?path=`, or 404. */
export function artifactMetadata(deps: DataPlaneDeps, ctx: RequestContext, ws: Workspace, origin: string, container: string): Reply {
  return json(200, artifactJson(requireArtifact(deps, ws, origin, container, checkArtifactPath(queryParam(ctx, 'path')))))
}

/** ArtifactContentInformation of `?path=`: where to download it (a SAS URL to the blob route). */
export function artifactContentInfo(deps: DataPlaneDeps, ctx: RequestContext, ws: Workspace, origin: string, container: string): Reply {
  const artifact = requireArtifact(deps, ws, origin, container, checkArtifactPath(queryParam(ctx, 'path')))
  return json(200, contentInfoJson(deps, ctx, ws, artifact))
}

function contentInfoJson(deps: DataPlaneDeps, ctx: RequestContext, ws: Workspace, a: StoredArtifact): Record<string, unknown> {
  return { contentUri: deps.blob.url(ctx.endpoints.blob(ws.storageAccountName), ws, a.origin, a.container, a.path), origin: a.origin, container: a.container, path: a.path }
}

function requireArtifact(deps: DataPlaneDeps, ws: Workspace, origin: string, container: string, artifactPath: string): StoredArtifact {
  const artifact = deps.artifacts.get(ws.workspaceId, origin, container, artifactPath)
  if (!artifact) throw dataPlaneError(404, 'UserError', `Artifact ${origin}/${container}/${artifactPath} was not found`, { innerCode: 'NotFoundError' })
  return artifact
}

function flag(value: string | null): boolean {
  return value !== null && value.toLowerCase() === 'true'
}
