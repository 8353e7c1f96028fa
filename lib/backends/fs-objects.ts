import { constants } from 'node:fs';
import { copyFile, type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import { formatDigest } from '../core/digest.ts';
import {
  BackendError,
  BucketNotFoundError,
  ObjectNotFoundError,
  ValidationError,
} from '../core/errors.ts';
import { resolveRange } from '../core/range.ts';
import {
  isNotFound,
  type KeyedMutex,
  mkdirDurable,
  newId,
  pruneEmptyDirs,
  removeQuietly,
  streamToFile,
  syncDir,
  syncFile,
} from './fs-files.ts';
import {
  bucketPresent,
  dataPath,
  type FsLayout,
  keysDir,
  type ObjectRecord,
  readRecord,
  readRecordIfPresent,
  recordToMetadata,
  sidecarPath,
  stagingDir,
  writeFileDurable,
} from './fs-layout.ts';
import type {
  GetObjectOptions,
  GetObjectResult,
  ObjectMetadata,
  PutObjectOptions,
  PutObjectResult,
} from './object-backend.ts';

/** What the object operations need: the layout, a clock and the per-key commit locks. */
export interface FsObjectContext extends FsLayout {
  readonly clock: () => Date;
  readonly locks: KeyedMutex;
}

/** A key as the caller spelled it and as its validated UTF-8 bytes (see objectKeyBytes). */
export interface FsKey {
  readonly key: string;
  readonly bytes: Buffer;
}

/** Readers and copies retry when an overwrite removed the version they were about to open. */
const MAX_ATTEMPTS = 8;

export async function headObject(
  ctx: FsObjectContext,
  bucket: string,
  key: FsKey,
): Promise<ObjectMetadata> {
  return recordToMetadata(await readObjectRecord(ctx, bucket, key), key.key);
}

/** Opens the data file once, so the body is one version even if the key is overwritten. */
export async function getObject(
  ctx: FsObjectContext,
  bucket: string,
  key: FsKey,
  options: GetObjectOptions = {},
): Promise<GetObjectResult> {
  for (let attempt = 1; ; attempt++) {
    const record = await readObjectRecord(ctx, bucket, key);
    const range = options.range && resolveRange(options.range, record.contentLength);
    let file: FileHandle;
    try {
      file = await open(dataPath(ctx, bucket, record.dataId), 'r');
    } catch (error) {
      if (isNotFound(error) && attempt < MAX_ATTEMPTS) continue;
      throw error;
    }
    try {
      if ((await file.stat()).size !== record.contentLength) {
        throw new BackendError('fs backend: data file size does not match its metadata');
      }
    } catch (error) {
      await file.close();
      throw error;
    }
    const body = file.createReadStream({ start: range?.start ?? 0, end: range?.end });
    if (options.signal) addAbortSignal(options.signal, body);
    return { metadata: recordToMetadata(record, key.key), body, ...(range && { range }) };
  }
}

/**
 * Streams the body to a staged file (md5 computed on the way), fsyncs it, then publishes it.
 * Nothing is visible until the sidecar rename; any failure removes the staged files.
 */
export async function putObject(
  ctx: FsObjectContext,
  bucket: string,
  key: FsKey,
  body: Readable,
  options: PutObjectOptions = {},
): Promise<PutObjectResult> {
  await requireBucket(ctx, bucket);
  const id = newId();
  const staged = join(stagingDir(ctx, bucket), id);
  let written: { size: number; md5: string };
  try {
    written = await streamToFile(staged, body, options.signal);
    if (options.contentLength !== undefined && written.size !== options.contentLength) {
      throw new ValidationError(
        `body is ${written.size} bytes but contentLength is ${options.contentLength}`,
      );
    }
  } catch (error) {
    await removeQuietly(staged);
    throw error;
  }
  const etag = `"${written.md5}"`;
  await publish(ctx, bucket, key, staged, {
    format: 1,
    key: key.key,
    dataId: id,
    contentLength: written.size,
    contentType: options.contentType,
    contentDisposition: options.contentDisposition,
    contentEncoding: options.contentEncoding,
    contentLanguage: options.contentLanguage,
    digest: options.digest ?? formatDigest('md5', written.md5),
    etag,
    lastModified: ctx.clock().toISOString(),
    storageClass: 'STANDARD',
  });
  return { etag };
}

/** Copies the data (a reflink where the file system can) into a new version of `target`. */
export async function copyObject(
  ctx: FsObjectContext,
  bucket: string,
  source: FsKey,
  target: FsKey,
): Promise<PutObjectResult> {
  for (let attempt = 1; ; attempt++) {
    const record = await readObjectRecord(ctx, bucket, source);
    const id = newId();
    const staged = join(stagingDir(ctx, bucket), id);
    try {
      await copyFile(dataPath(ctx, bucket, record.dataId), staged, constants.COPYFILE_FICLONE);
      await syncFile(staged);
    } catch (error) {
      await removeQuietly(staged);
      if (isNotFound(error) && attempt < MAX_ATTEMPTS) continue;
      throw error;
    }
    await publish(ctx, bucket, target, staged, {
      ...record,
      key: target.key,
      dataId: id,
      lastModified: ctx.clock().toISOString(),
    });
    return { etag: record.etag };
  }
}

/** Idempotent; removes the sidecar (the commit point), then the data and empty directories. */
export async function deleteObject(
  ctx: FsObjectContext,
  bucket: string,
  key: FsKey,
): Promise<void> {
  await requireBucket(ctx, bucket);
  const sidecar = sidecarPath(ctx, bucket, key.bytes);
  const removed = await ctx.locks.run(lockKey(bucket, key.key), async () => {
    const record = await readRecordIfPresent(sidecar).catch(() => undefined);
    try {
      await unlink(sidecar);
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
    return record ?? true;
  });
  if (removed === false) return;
  await syncDir(dirname(sidecar)).catch(ignoreNotFound);
  if (removed !== true) await removeQuietly(dataPath(ctx, bucket, removed.dataId));
  await pruneEmptyDirs(dirname(sidecar), keysDir(ctx, bucket));
}

/**
 * Moves a staged, fsynced data file into data/, stages its sidecar, and commits by renaming the
 * sidecar into the key tree. The replaced version's data is removed after the commit; the
 * per-key lock makes "the replaced version" exact within this process (across processes a
 * racing writer can at worst leak an unreferenced data file, never tear an object).
 */
export async function publish(
  ctx: FsObjectContext,
  bucket: string,
  key: FsKey,
  staged: string,
  record: ObjectRecord,
): Promise<void> {
  const data = dataPath(ctx, bucket, record.dataId);
  const sidecar = sidecarPath(ctx, bucket, key.bytes);
  const stagedSidecar = `${staged}.json`;
  let committed = false;
  let previous: ObjectRecord | undefined;
  try {
    await mkdirDurable(dirname(data));
    await rename(staged, data);
    await syncDir(dirname(data));
    await writeFileDurable(stagedSidecar, JSON.stringify(record));
    previous = await ctx.locks.run(lockKey(bucket, key.key), async () => {
      const old = await readRecordIfPresent(sidecar).catch(() => undefined);
      await renameCreatingDir(stagedSidecar, sidecar);
      committed = true;
      return old;
    });
  } catch (error) {
    if (!committed) {
      await Promise.all([staged, data, stagedSidecar].map((path) => removeQuietly(path)));
    }
    throw error;
  }
  await syncDir(dirname(sidecar)).catch(ignoreNotFound);
  if (previous && previous.dataId !== record.dataId) {
    await removeQuietly(dataPath(ctx, bucket, previous.dataId));
  }
}

/** A concurrent delete may prune the target's directory between mkdir and rename: retry. */
async function renameCreatingDir(from: string, to: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await rename(from, to);
      return;
    } catch (error) {
      if (!isNotFound(error) || attempt >= MAX_ATTEMPTS) throw error;
      await mkdirDurable(dirname(to));
    }
  }
}

async function readObjectRecord(
  ctx: FsObjectContext,
  bucket: string,
  key: FsKey,
): Promise<ObjectRecord> {
  try {
    return await readRecord(sidecarPath(ctx, bucket, key.bytes));
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await requireBucket(ctx, bucket);
    throw new ObjectNotFoundError(bucket, key.key);
  }
}

export async function requireBucket(layout: FsLayout, bucket: string): Promise<void> {
  if (!(await bucketPresent(layout, bucket))) throw new BucketNotFoundError(bucket);
}

const lockKey = (bucket: string, key: string): string => `${bucket}/${key}`;

function ignoreNotFound(error: unknown): void {
  if (!isNotFound(error)) throw error;
}
