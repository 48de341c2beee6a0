import { createHash, randomUUID } from 'node:crypto'
import { closeSync, openSync, statSync, type Stats } from 'node:fs'
import { appendFile, copyFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { dataPlaneError } from './errors.js'

/** One stored artifact: where its bytes are on disk and what Azure calls it. */
export interface StoredArtifact {
  workspaceId: string
  origin: string
  container: string
  path: string
  file: string
  createdTime: string
}

/**
 * The bytes behind artifacts and blobs. Each artifact is one file with a random name, so artifact paths
 * never touch the file system (no `..` escapes, and `a` and `a/b` can both exist as in blob storage).
 */
export class ArtifactStore {
  private readonly items = new Map<string, StoredArtifact>()

  constructor(private readonly dir: string) {}

  get(workspaceId: string, origin: string, container: string, artifactPath: string): StoredArtifact | undefined {
    return this.items.get(key(workspaceId, origin, container, artifactPath))
  }

  /** The artifacts of a container whose path starts with `prefix`, in path order. */
  list(workspaceId: string, origin: string, container: string, prefix = ''): StoredArtifact[] {
    const head = key(workspaceId, origin, container, '')
    return [...this.items.entries()]
      .filter(([k, a]) => k.startsWith(head) && a.path.startsWith(prefix))
      .map(([, a]) => a)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  }

  /** Creates an empty artifact (e.g. a log that a process then appends to) and returns it. */
  createEmpty(workspaceId: string, origin: string, container: string, artifactPath: string): StoredArtifact {
    const artifact = this.register(workspaceId, origin, container, artifactPath)
    closeSync(openSync(artifact.file, 'a'))
    return artifact
  }

  /** Stores bytes; `append` adds to an existing artifact, otherwise an existing one needs `overwrite`. */
  async write(
    workspaceId: string,
    origin: string,
    container: string,
    artifactPath: string,
    data: Buffer,
    mode: { overwrite?: boolean; append?: boolean } = {}
  ): Promise<StoredArtifact> {
    const existing = this.get(workspaceId, origin, container, artifactPath)
    if (existing && mode.append) {
      await appendFile(existing.file, data)
      return existing
    }
    if (existing && !mode.overwrite) {
      throw dataPlaneError(409, 'UserError', `Artifact ${origin}/${container}/${artifactPath} already exists.`, { innerCode: 'Conflict' })
    }
    const artifact = existing ?? this.register(workspaceId, origin, container, artifactPath)
    await writeFile(artifact.file, data)
    return artifact
  }

  /** Copies a file in as an artifact (a run's outputs), replacing an artifact of the same path. */
  async importFile(workspaceId: string, origin: string, container: string, artifactPath: string, source: string): Promise<StoredArtifact> {
    const artifact = this.get(workspaceId, origin, container, artifactPath) ?? this.register(workspaceId, origin, container, artifactPath)
    await copyFile(source, artifact.file)
    return artifact
  }

  private register(workspaceId: string, origin: string, container: string, artifactPath: string): StoredArtifact {
    const artifact: StoredArtifact = {
      workspaceId,
      origin,
      container,
      path: artifactPath,
      file: path.join(this.dir, randomUUID()),
      createdTime: new Date().toISOString()
    }
    this.items.set(key(workspaceId, origin, container, artifactPath), artifact)
    return artifact
  }
}

/** Size, ETag and Last-Modified of an artifact's current bytes (they change while a log grows). */
export function artifactStat(artifact: StoredArtifact): { size: number; etag: string; lastModified: Date; stats: Stats } {
  const stats = statSync(artifact.file)
  const digest = createHash('sha256').update(`${artifact.file}:${stats.size}:${stats.mtimeMs}`).digest('hex').slice(0, 14).toUpperCase()
  return { size: stats.size, etag: `"0x8D${digest}"`, lastModified: stats.mtime, stats }
}

/** The Artifact JSON of the artifact service. */
export function artifactJson(artifact: StoredArtifact): Record<string, unknown> {
  return {
    artifactId: `${artifact.origin}/${artifact.container}/${artifact.path}`,
    origin: artifact.origin,
    container: artifact.container,
    path: artifact.path,
    etag: artifactStat(artifact).etag,
    createdTime: artifact.createdTime,
    dataPath: null
  }
}

/** Checks an artifact path as the artifact service would (relative, no empty or `..` segments). */
export function checkArtifactPath(raw: string | null): string {
  if (raw === null || raw === '') {
    throw dataPlaneError(400, 'ValidationError', "The query parameter 'path' is required.", { innerCode: 'BadArgument', target: 'path' })
  }
  const segments = raw.split('/')
  if (raw.startsWith('/') || raw.includes('\\') || /[\x00-\x1f]/.test(raw) || segments.some(s => s === '' || s === '.' || s === '..')) {
    throw dataPlaneError(400, 'ValidationError', `The artifact path '${raw}' is not valid: use a relative path without empty, '.' or '..' segments.`, {
      innerCode: 'BadArgument',
      target: 'path'
    })
  }
  return raw
}

function key(workspaceId: string, origin: string, container: string, artifactPath: string): string {
  return `${workspaceId}\n${origin}\n${container}\n${artifactPath}`
}
