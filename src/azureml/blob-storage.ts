import path from 'node:path'
import { ActionError } from '../errors.js'

/**
 * Azure Blob Storage through @azure/storage-blob (loaded only on the paths that need it, to keep start-up
 * fast). Errors are rewritten so that no SAS signature or account key can reach a log line.
 */

/** Uploads a local file as `container/blobName`, creating the container if needed; returns the blob's URL (no SAS). */
export async function uploadFile(connectionString: string, container: string, blobName: string, file: string): Promise<string> {
  const { BlobServiceClient } = await import('@azure/storage-blob')
  try {
    const containerClient = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container)
    await containerClient.createIfNotExists()
    const blob = containerClient.getBlockBlobClient(blobName)
    await blob.uploadFile(file)
    // With a SAS connection string the client's URL carries the SAS as its query.
    return withoutQuery(blob.url)
  } catch (error) {
    throw storageError(`uploading ${path.basename(file)} to blob container '${container}'`, error)
  }
}

/** Downloads a blob given by a SAS URL to a file, streaming; returns the number of bytes. */
export async function downloadToFile(sasUrl: string, file: string): Promise<number> {
  const { BlobClient } = await import('@azure/storage-blob')
  try {
    const response = await new BlobClient(sasUrl).downloadToFile(file)
    return response.contentLength ?? 0
  } catch (error) {
    throw storageError(`downloading ${new URL(sasUrl).pathname}`, error)
  }
}

/** A blob URL without its query and fragment, where a SAS would be (text-level: the input may be no full URL). */
export function withoutQuery(url: string): string {
  return url.replace(/[?#][\s\S]*$/, '')
}

function storageError(operation: string, error: unknown): ActionError {
  const e = error as { statusCode?: number; code?: string; message?: string }
  const message = (e.message ?? String(error))
    .replace(/([?&]sig=)[^&\s"']+/gi, '$1REDACTED')
    .replace(/(AccountKey=)[^;\s"']+/gi, '$1REDACTED')
    .split('\n')[0]
  return new ActionError(`${operation}: ${e.statusCode ? `HTTP ${e.statusCode} ` : ''}${e.code ? `${e.code}: ` : ''}${message}`, {
    hint: e.statusCode === 403 ? 'Check storage-connection-string (account name and key) and that the SAS has not expired.' : undefined
  })
}
