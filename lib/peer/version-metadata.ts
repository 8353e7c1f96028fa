import type { ObjectMetadata } from '../backends/object-backend.ts';
import { DEFAULT_STORAGE_CLASS } from '../core/headers.ts';
import type { TaskMeta } from '../storage/task-meta.ts';
import type { TaskLayout, VersionMetadata } from './p2p-protocol.ts';

/** The wire form of a backend object's metadata. */
export function toVersionMetadata(metadata: ObjectMetadata): VersionMetadata {
  return stripUndefined({
    contentLength: metadata.contentLength,
    etag: metadata.etag,
    digest: metadata.digest,
    contentType: metadata.contentType,
    contentDisposition: metadata.contentDisposition,
    contentEncoding: metadata.contentEncoding,
    contentLanguage: metadata.contentLanguage,
    lastModified: metadata.lastModified.toISOString(),
  });
}

/** The object metadata HEAD/GET answer for a version learnt from the cluster. */
export function fromVersionMetadata(key: string, metadata: VersionMetadata): ObjectMetadata {
  return {
    key,
    contentLength: metadata.contentLength,
    contentType: metadata.contentType,
    contentDisposition: metadata.contentDisposition,
    contentEncoding: metadata.contentEncoding,
    contentLanguage: metadata.contentLanguage,
    etag: metadata.etag,
    digest: metadata.digest,
    lastModified: new Date(metadata.lastModified),
    storageClass: DEFAULT_STORAGE_CLASS,
  };
}

/** A task's metadata as versions carry it (a task imported by PUT has no ETag: its md5 is). */
export function versionMetadataOfTask(meta: TaskMeta): VersionMetadata {
  return stripUndefined({
    contentLength: meta.contentLength,
    etag: meta.etag ?? `"${(meta.digest ?? '').replace(/^md5:/, '')}"`,
    digest: meta.digest,
    contentType: meta.contentType,
    contentDisposition: meta.contentDisposition,
    contentEncoding: meta.contentEncoding,
    contentLanguage: meta.contentLanguage,
    lastModified: meta.lastModified ?? meta.createdAt,
  });
}

/**
 * The layout of a task in the store (partial or complete): its digests as far as known ('' for
 * pieces not yet verified). `fallback` fills bucket/key/metadata the task does not carry.
 */
export function layoutOfTask(
  meta: TaskMeta,
  fallback: { bucket?: string; key?: string; metadata?: VersionMetadata } = {},
): TaskLayout {
  return {
    taskId: meta.taskId,
    contentLength: meta.contentLength,
    pieceSize: meta.pieceSize,
    pieceCount: meta.pieceCount,
    pieceDigests: [...meta.pieceDigests],
    metadata: fallback.metadata ?? versionMetadataOfTask(meta),
    bucket: meta.bucket ?? fallback.bucket ?? '',
    key: meta.key ?? fallback.key ?? '',
  };
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
