import type { ServiceGetResult } from '../api/object-service.ts';
import type { ObjectMetadata } from '../backends/object-backend.ts';
import { DEFAULT_STORAGE_CLASS } from '../core/headers.ts';
import type { RangeSpec } from '../core/range.ts';
import { resolveRange } from '../core/range.ts';
import type { IndexEntry } from '../storage/object-index.ts';
import type { PieceStore } from '../storage/piece-store.ts';
import type { TaskMeta } from '../storage/task-meta.ts';

/** Object metadata as HEAD/GET answer it for a version held in the cache. */
export function entryMetadata(key: string, entry: IndexEntry): ObjectMetadata {
  return {
    key,
    contentLength: entry.contentLength,
    contentType: entry.contentType,
    contentDisposition: entry.contentDisposition,
    contentEncoding: entry.contentEncoding,
    contentLanguage: entry.contentLanguage,
    etag: entry.etag,
    digest: entry.digest,
    lastModified: new Date(entry.lastModified),
    storageClass: DEFAULT_STORAGE_CLASS,
  };
}

/** The index entry for a complete task, with `overrides` from the backend or the request. */
export function entryFromTask(meta: TaskMeta, overrides: Partial<IndexEntry> = {}): IndexEntry {
  return {
    taskId: meta.taskId,
    contentLength: meta.contentLength,
    etag: meta.etag ?? `"${(meta.digest ?? '').replace(/^md5:/, '')}"`,
    digest: meta.digest ?? '',
    contentType: meta.contentType,
    contentDisposition: meta.contentDisposition,
    contentEncoding: meta.contentEncoding,
    contentLanguage: meta.contentLanguage,
    lastModified: meta.lastModified ?? meta.createdAt,
    ...overrides,
  };
}

/** Serves a complete cached task, whole or one range, streamed from one file descriptor. */
export async function readCached(
  store: PieceStore,
  key: string,
  entry: IndexEntry,
  range: RangeSpec | undefined,
): Promise<ServiceGetResult> {
  const metadata = entryMetadata(key, entry);
  if (!range) {
    return { metadata, body: await store.createReadStream(entry.taskId, { bufferSmall: true }) };
  }
  const resolved = resolveRange(range, entry.contentLength);
  const body = await store.createReadStream(entry.taskId, {
    start: resolved.start,
    end: resolved.end,
    bufferSmall: true,
  });
  return { metadata, body, range: resolved };
}

/** Whether the store holds the whole task (servable without any download). */
export function isComplete(store: PieceStore, taskId: string): boolean {
  return store.stat(taskId)?.complete === true;
}
