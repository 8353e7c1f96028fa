import { createReadStream } from 'node:fs';
import { readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { formatDigest } from '../core/digest.ts';
import { ValidationError } from '../core/errors.ts';
import {
  isNotFound,
  mkdirDurable,
  newId,
  removeQuietly,
  streamToFile,
  syncDir,
} from './fs-files.ts';
import { stagingDir, UPLOAD_ID_RE, uploadDir, uploadsDir, writeFileDurable } from './fs-layout.ts';
import { type FsKey, type FsObjectContext, publish, requireBucket } from './fs-objects.ts';
import { checkCompletedParts, checkPartNumber, multipartEtag, partEtagMd5 } from './multipart.ts';
import {
  type CompletedPart,
  type CreateMultipartUploadOptions,
  MIN_PART_SIZE,
  type MultipartUpload,
  type PutObjectResult,
  UploadNotFoundError,
} from './object-backend.ts';

/**
 * Multipart sessions of the fs backend. An upload is a directory `uploads/<uploadId>/` of its
 * bucket, named by a random id (never by the key): `upload.json` holds the key and the object's
 * metadata, and each part lives at `<partNumber>/<md5 hex>`, so the ETag a complete names is a
 * path to check. Parts are streamed to staging/ and renamed in, so a part is whole or absent.
 * Removing `upload.json` ends the session (complete, abort, sweep); the rest is then removed.
 * A per-upload lock orders part commits, complete, abort and sweep within the process.
 */

const MANIFEST = 'upload.json';

interface UploadManifest {
  readonly format: 1;
  readonly key: string;
  readonly contentType?: string;
  readonly digest?: string;
  /** ISO 8601, from the backend's clock: what sweepStaleUploads ages uploads by. */
  readonly initiated: string;
}

export interface UploadPartOptions {
  /** Exact length when known: a body of another length is refused. */
  readonly contentLength?: number;
  readonly signal?: AbortSignal;
}

export async function createUpload(
  ctx: FsObjectContext,
  bucket: string,
  key: FsKey,
  options: CreateMultipartUploadOptions = {},
): Promise<MultipartUpload> {
  await requireBucket(ctx, bucket);
  const uploadId = newId();
  const dir = uploadDir(ctx, bucket, uploadId);
  const manifest: UploadManifest = {
    format: 1,
    key: key.key,
    ...(options.contentType !== undefined && { contentType: options.contentType }),
    ...(options.digest !== undefined && { digest: options.digest }),
    initiated: ctx.clock().toISOString(),
  };
  await mkdirDurable(dir);
  await writeFileDurable(join(dir, MANIFEST), JSON.stringify(manifest));
  await syncDir(dir);
  return { uploadId };
}

/** Stores one part (replacing an earlier upload of that part number); resolves with its ETag. */
export async function writePart(
  ctx: FsObjectContext,
  bucket: string,
  key: FsKey,
  uploadId: string,
  partNumber: number,
  body: Readable,
  options: UploadPartOptions = {},
): Promise<PutObjectResult> {
  checkPartNumber(partNumber);
  await readManifest(ctx, bucket, key, uploadId);
  const staged = join(stagingDir(ctx, bucket), newId());
  try {
    const written = await streamToFile(staged, body, options.signal);
    if (options.contentLength !== undefined && written.size !== options.contentLength) {
      throw new ValidationError(
        `part is ${written.size} bytes but contentLength is ${options.contentLength}`,
      );
    }
    await ctx.locks.run(uploadLock(bucket, uploadId), async () => {
      // Completed or aborted while the part streamed in: the part has nowhere to go.
      await readManifest(ctx, bucket, key, uploadId);
      const partDir = join(uploadDir(ctx, bucket, uploadId), String(partNumber));
      await mkdirDurable(partDir);
      await rename(staged, join(partDir, written.md5));
      for (const name of await readdir(partDir)) {
        if (name !== written.md5) await removeQuietly(join(partDir, name));
      }
      await syncDir(partDir);
    });
    return { etag: `"${written.md5}"` };
  } finally {
    await removeQuietly(staged);
  }
}

/**
 * Checks the part list against the stored parts (the upload stays open when it is refused),
 * streams the parts into one staged file, publishes it as the object, then ends the session.
 */
export async function completeUpload(
  ctx: FsObjectContext,
  bucket: string,
  key: FsKey,
  uploadId: string,
  parts: readonly CompletedPart[],
): Promise<PutObjectResult> {
  checkCompletedParts(parts);
  return ctx.locks.run(uploadLock(bucket, uploadId), async () => {
    const manifest = await readManifest(ctx, bucket, key, uploadId);
    const dir = uploadDir(ctx, bucket, uploadId);
    const files: { path: string; md5: string }[] = [];
    for (const [index, { partNumber, etag }] of parts.entries()) {
      const md5 = partEtagMd5(etag);
      const path = md5 === undefined ? undefined : join(dir, String(partNumber), md5);
      const size = path === undefined ? undefined : await sizeIfPresent(path);
      if (path === undefined || md5 === undefined || size === undefined) {
        throw new ValidationError(
          `part ${partNumber} was not uploaded or its ETag does not match (InvalidPart)`,
        );
      }
      if (index < parts.length - 1 && size < MIN_PART_SIZE) {
        throw new ValidationError(
          `part ${partNumber} is ${size} bytes; every part but the last needs at least ` +
            `${MIN_PART_SIZE} (EntityTooSmall)`,
        );
      }
      files.push({ path, md5 });
    }
    const dataId = newId();
    const staged = join(stagingDir(ctx, bucket), dataId);
    let written: { size: number; md5: string };
    try {
      written = await streamToFile(staged, Readable.from(concatenate(files)), undefined);
    } catch (error) {
      await removeQuietly(staged);
      throw error;
    }
    const etag = multipartEtag(files.map((file) => file.md5));
    await publish(ctx, bucket, key, staged, {
      format: 1,
      key: key.key,
      dataId,
      contentLength: written.size,
      contentType: manifest.contentType,
      digest: manifest.digest ?? formatDigest('md5', written.md5),
      etag,
      lastModified: ctx.clock().toISOString(),
      storageClass: 'STANDARD',
    });
    await endUpload(dir);
    return { etag };
  });
}

/** Idempotent: an unknown, finished or other key's upload is left as it is. */
export async function abortUpload(
  ctx: FsObjectContext,
  bucket: string,
  key: FsKey,
  uploadId: string,
): Promise<void> {
  await requireBucket(ctx, bucket);
  if (!UPLOAD_ID_RE.test(uploadId)) return;
  await ctx.locks.run(uploadLock(bucket, uploadId), async () => {
    const manifest = await readManifestFile(uploadDir(ctx, bucket, uploadId));
    if (manifest?.key === key.key) await endUpload(uploadDir(ctx, bucket, uploadId));
  });
}

/**
 * Removes the uploads of `buckets` started more than `olderThanMs` ago (by the backend's clock;
 * by the directory's mtime when a crash left no readable manifest). Returns how many it removed.
 */
export async function sweepUploads(
  ctx: FsObjectContext,
  buckets: readonly string[],
  olderThanMs: number,
): Promise<number> {
  if (!Number.isFinite(olderThanMs) || olderThanMs < 0) {
    throw new ValidationError('olderThanMs must be a non-negative number of milliseconds');
  }
  const cutoff = ctx.clock().getTime() - olderThanMs;
  let removed = 0;
  for (const bucket of buckets) {
    let ids: string[];
    try {
      ids = await readdir(uploadsDir(ctx, bucket));
    } catch (error) {
      if (isNotFound(error)) continue;
      throw error;
    }
    for (const uploadId of ids.filter((id) => UPLOAD_ID_RE.test(id))) {
      await ctx.locks.run(uploadLock(bucket, uploadId), async () => {
        const dir = uploadDir(ctx, bucket, uploadId);
        const started = await startedAt(dir);
        if (started === undefined || started > cutoff) return;
        await endUpload(dir);
        removed++;
      });
    }
  }
  return removed;
}

/** The upload's manifest; UploadNotFoundError unless it is an upload of this key. */
async function readManifest(
  ctx: FsObjectContext,
  bucket: string,
  key: FsKey,
  uploadId: string,
): Promise<UploadManifest> {
  await requireBucket(ctx, bucket);
  const manifest = UPLOAD_ID_RE.test(uploadId)
    ? await readManifestFile(uploadDir(ctx, bucket, uploadId))
    : undefined;
  if (manifest?.key !== key.key) throw new UploadNotFoundError(uploadId);
  return manifest;
}

/** undefined when absent or unreadable (a crash while creating it): no usable upload. */
async function readManifestFile(dir: string): Promise<UploadManifest | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST), 'utf8');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  try {
    const manifest = JSON.parse(text) as Partial<UploadManifest>;
    const valid =
      manifest.format === 1 &&
      typeof manifest.key === 'string' &&
      typeof manifest.initiated === 'string';
    return valid ? (manifest as UploadManifest) : undefined;
  } catch {
    return undefined;
  }
}

async function startedAt(dir: string): Promise<number | undefined> {
  const manifest = await readManifestFile(dir);
  const initiated = manifest ? Date.parse(manifest.initiated) : Number.NaN;
  if (!Number.isNaN(initiated)) return initiated;
  try {
    return (await stat(dir)).mtimeMs;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Unlinking the manifest is the commit point; the parts then go best-effort (or by sweep). */
async function endUpload(dir: string): Promise<void> {
  try {
    await unlink(join(dir, MANIFEST));
    await syncDir(dir);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  await removeQuietly(dir);
}

async function sizeIfPresent(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function* concatenate(files: readonly { path: string }[]): AsyncGenerator<Buffer> {
  for (const { path } of files) yield* createReadStream(path);
}

/** Distinct from object locks (`bucket/key`): bucket names cannot hold `:`. */
const uploadLock = (bucket: string, uploadId: string): string => `upload:${bucket}/${uploadId}`;
