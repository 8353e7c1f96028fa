import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BackendError } from '../core/errors.ts';
import { isNotFound } from './fs-files.ts';
import { keyToTreeNames } from './fs-key-path.ts';
import type { ObjectMetadata } from './object-backend.ts';

/**
 * On-disk layout of the fs backend:
 *
 *   <root>/<bucket>/keys/…/o<hex>      metadata sidecar of one object (see fs-key-path.ts)
 *   <root>/<bucket>/data/<id[0:2]>/<id>  immutable data file of one object version
 *   <root>/<bucket>/staging/             uploads in progress (same file system as data/, keys/)
 *   <root>/<bucket>/uploads/<uploadId>/  one multipart session: `upload.json` (its key and
 *                                        metadata; removing it ends the session) and
 *                                        `<partNumber>/<md5 hex>` part files (fs-multipart.ts)
 *   <root>/.tmp/, <root>/.trash/          buckets being created or deleted
 *
 * The sidecar names its data file by version id, and it is the single commit point: a writer
 * stores the data under a fresh id, then renames a new sidecar over the old one. A reader that
 * reads one sidecar therefore always pairs it with the bytes it describes; old data files are
 * removed only after the sidecar that named them is replaced, and readers that lose that race
 * re-read the sidecar. Bucket names cannot start with `.`, so `.tmp`/`.trash` never clash.
 */
export interface FsLayout {
  readonly root: string;
}

export const bucketDir = (layout: FsLayout, bucket: string): string => join(layout.root, bucket);
export const keysDir = (layout: FsLayout, bucket: string): string =>
  join(layout.root, bucket, 'keys');
export const stagingDir = (layout: FsLayout, bucket: string): string =>
  join(layout.root, bucket, 'staging');
export const uploadsDir = (layout: FsLayout, bucket: string): string =>
  join(layout.root, bucket, 'uploads');
/** `uploadId` must have been checked (UPLOAD_ID_RE): it becomes a path component. */
export const uploadDir = (layout: FsLayout, bucket: string, uploadId: string): string =>
  join(layout.root, bucket, 'uploads', uploadId);
export const dataPath = (layout: FsLayout, bucket: string, id: string): string =>
  join(layout.root, bucket, 'data', id.slice(0, 2), id);
export const sidecarPath = (layout: FsLayout, bucket: string, key: Buffer): string =>
  join(keysDir(layout, bucket), ...keyToTreeNames(key));

export async function bucketPresent(layout: FsLayout, bucket: string): Promise<boolean> {
  try {
    return (await stat(keysDir(layout, bucket))).isDirectory();
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** The sidecar: everything `headObject` returns, plus the key and the data version. */
export interface ObjectRecord {
  readonly format: 1;
  readonly key: string;
  readonly dataId: string;
  readonly contentLength: number;
  readonly contentType?: string;
  readonly contentDisposition?: string;
  readonly contentEncoding?: string;
  readonly contentLanguage?: string;
  /** `md5:<hex>` computed while streaming, unless the writer supplied one. */
  readonly digest: string;
  /** Quoted md5 hex of the bytes. */
  readonly etag: string;
  /** ISO 8601. */
  readonly lastModified: string;
  readonly storageClass: 'STANDARD';
}

const DATA_ID_RE = /^[0-9a-f]{32}$/;
/** Upload ids are `newId()`s too; anything else names no upload (and never a path). */
export const UPLOAD_ID_RE = DATA_ID_RE;

/**
 * Reads and checks a sidecar. fs errors propagate unchanged (callers map not-found); a sidecar
 * that does not parse is a BackendError. `dataId` becomes a path, so it must be exactly an id.
 */
export async function readRecord(path: string): Promise<ObjectRecord> {
  const text = await readFile(path, 'utf8');
  let record: Partial<ObjectRecord>;
  try {
    record = JSON.parse(text) as Partial<ObjectRecord>;
  } catch (error) {
    throw new BackendError('fs backend: corrupt object metadata', { cause: error });
  }
  if (
    record.format !== 1 ||
    typeof record.dataId !== 'string' ||
    !DATA_ID_RE.test(record.dataId) ||
    typeof record.contentLength !== 'number' ||
    typeof record.etag !== 'string' ||
    typeof record.lastModified !== 'string'
  ) {
    throw new BackendError('fs backend: corrupt object metadata');
  }
  return record as ObjectRecord;
}

/** Reads a sidecar, or undefined when there is none. */
export async function readRecordIfPresent(path: string): Promise<ObjectRecord | undefined> {
  try {
    return await readRecord(path);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Writes a file and fsyncs it; `wx` so a staged name is never shared. */
export async function writeFileDurable(path: string, data: string): Promise<void> {
  const handle = await open(path, 'wx', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function recordToMetadata(record: ObjectRecord, key: string): ObjectMetadata {
  return {
    key,
    contentLength: record.contentLength,
    ...(record.contentType !== undefined && { contentType: record.contentType }),
    ...(record.contentDisposition !== undefined && {
      contentDisposition: record.contentDisposition,
    }),
    ...(record.contentEncoding !== undefined && { contentEncoding: record.contentEncoding }),
    ...(record.contentLanguage !== undefined && { contentLanguage: record.contentLanguage }),
    etag: record.etag,
    digest: record.digest,
    lastModified: new Date(record.lastModified),
    storageClass: record.storageClass,
  };
}
