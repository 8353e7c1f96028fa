import type { Dirent } from 'node:fs';
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { FsBackendConfig } from '../config/backend-config.ts';
import { BackendError, ConflictError, DfstoreError, ValidationError } from '../core/errors.ts';
import { validateBucketName } from '../core/names.ts';
import {
  errorCode,
  isNotFound,
  KeyedMutex,
  mkdirDurable,
  newId,
  removeQuietly,
  syncDir,
} from './fs-files.ts';
import { objectKeyBytes } from './fs-key-path.ts';
import {
  bucketDir,
  bucketPresent,
  keysDir,
  readRecord,
  recordToMetadata,
  UPLOAD_ID_RE,
} from './fs-layout.ts';
import { hasAnyObject, listTree } from './fs-list.ts';
import {
  abortUpload,
  completeUpload,
  createUpload,
  sweepUploads,
  type UploadPartOptions,
  writePart,
} from './fs-multipart.ts';
import {
  copyObject,
  deleteObject,
  type FsKey,
  type FsObjectContext,
  getObject,
  headObject,
  putObject,
  requireBucket,
} from './fs-objects.ts';
import { buildPresignedUrl, type PresignedPart } from './fs-presign.ts';
import { checkExpiresInSeconds, checkPartNumber } from './multipart.ts';
import {
  type BucketInfo,
  type ObjectBackend,
  type PresignOptions,
  type PutObjectResult,
  UploadNotFoundError,
} from './object-backend.ts';

export interface FsBackendDeps {
  /** Stamps lastModified and presign expiries; a fake clock in tests. */
  readonly clock?: () => Date;
}

/** The fs adapter: the port plus what only a local directory can offer. */
export interface FsBackend extends ObjectBackend {
  readonly name: 'fs';
  /**
   * Stores part `partNumber` of a multipart upload and resolves with its ETag (`"<md5 hex>"`);
   * uploading a part number again replaces it. What a presignUploadPart URL does once the fs
   * presign app has checked it. Throws UploadNotFoundError for an unknown or finished upload.
   */
  uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    options?: UploadPartOptions,
  ): Promise<PutObjectResult>;
  /**
   * Removes multipart uploads started more than `olderThanMs` ago and never completed or
   * aborted, with their parts; resolves with how many. Whoever hosts the backend runs it now and
   * then (S3 and OSS do this with a bucket lifecycle rule).
   */
  sweepStaleUploads(olderThanMs: number): Promise<number>;
}

/**
 * The embedded backend: one directory per bucket under `config.root` (layout in fs-layout.ts,
 * key mapping in fs-key-path.ts). Writes are atomic and durable (staged, fsynced, renamed, parent
 * fsynced); readers see whole versions only. Bucket and key names are validated before any path
 * is built, and keys never become path components as-is, so nothing escapes the root.
 * Presigned URLs need `config.presign` and a server mounting createFsPresignApp.
 */
export function createFsBackend(config: FsBackendConfig, deps: FsBackendDeps = {}): FsBackend {
  const root = resolve(config.root);
  const ctx: FsObjectContext = {
    root,
    clock: deps.clock ?? (() => new Date()),
    locks: new KeyedMutex(),
  };
  const toKey = (key: string): FsKey => ({ key, bytes: objectKeyBytes(key) });

  return {
    name: 'fs',
    region: 'local',
    endpoint: pathToFileURL(root).href,

    headObject: (bucket, key) =>
      guard('head', () => headObject(ctx, validateBucketName(bucket), toKey(key))),
    getObject: (bucket, key, options) =>
      guard('get', () => getObject(ctx, validateBucketName(bucket), toKey(key), options)),
    putObject: (bucket, key, body, options) =>
      guard('put', () => putObject(ctx, validateBucketName(bucket), toKey(key), body, options)),
    deleteObject: (bucket, key) =>
      guard('delete', () => deleteObject(ctx, validateBucketName(bucket), toKey(key))),
    copyObject: (bucket, sourceKey, destinationKey) =>
      guard('copy', () =>
        copyObject(ctx, validateBucketName(bucket), toKey(sourceKey), toKey(destinationKey)),
      ),

    listObjects: (bucket, options = {}) =>
      guard('list', async () => {
        await requireBucket(ctx, validateBucketName(bucket));
        return listTree(keysDir(ctx, bucket), options, async ({ key, sidecar }) => {
          try {
            return recordToMetadata(await readRecord(sidecar), key.toString('utf8'));
          } catch (error) {
            if (isNotFound(error)) return undefined;
            throw error;
          }
        });
      }),

    createBucket: (bucket) =>
      guard('create bucket', async () => {
        if (await bucketPresent(ctx, validateBucketName(bucket))) return;
        // Built aside and renamed into place, so a bucket is never seen half-made.
        const staged = join(root, '.tmp', newId());
        await mkdirDurable(join(staged, 'keys'));
        await mkdir(join(staged, 'data'));
        await mkdir(join(staged, 'staging'));
        await syncDir(staged);
        try {
          await rename(staged, bucketDir(ctx, bucket));
        } catch (error) {
          await removeQuietly(staged);
          const code = errorCode(error);
          const raced = code === 'EEXIST' || code === 'ENOTEMPTY';
          if (raced && (await bucketPresent(ctx, bucket))) return;
          throw error;
        }
        await syncDir(root);
      }),

    bucketExists: (bucket) =>
      guard('bucket exists', () => bucketPresent(ctx, validateBucketName(bucket))),

    listBuckets: () => guard('list buckets', () => listBuckets(root)),

    deleteBucket: (bucket) =>
      guard('delete bucket', async () => {
        await requireBucket(ctx, validateBucketName(bucket));
        if (await hasAnyObject(keysDir(ctx, bucket))) {
          throw new ConflictError(`bucket ${bucket} is not empty`);
        }
        // Renamed out of the namespace first, so the name is free before the slow removal.
        const trash = join(root, '.trash', newId());
        await mkdir(dirname(trash), { recursive: true });
        await rename(bucketDir(ctx, bucket), trash);
        await syncDir(root);
        await removeQuietly(trash);
      }),

    presignUrl: (bucket, key, options) =>
      guard('presign', async () => presign(bucket, key, options)),

    createMultipartUpload: (bucket, key, options) =>
      guard('create upload', () =>
        createUpload(ctx, validateBucketName(bucket), toKey(key), options),
      ),
    presignUploadPart: (bucket, key, uploadId, partNumber, options) =>
      guard('presign part', async () => {
        checkPartNumber(partNumber);
        checkExpiresInSeconds(options.expiresInSeconds);
        if (!UPLOAD_ID_RE.test(uploadId)) throw new UploadNotFoundError(uploadId);
        const part = { uploadId, partNumber };
        return presign(bucket, key, { method: 'PUT', expiresIn: options.expiresInSeconds }, part);
      }),
    uploadPart: (bucket, key, uploadId, partNumber, body, options) =>
      guard('upload part', () =>
        writePart(ctx, validateBucketName(bucket), toKey(key), uploadId, partNumber, body, options),
      ),
    completeMultipartUpload: (bucket, key, uploadId, parts) =>
      guard('complete upload', () =>
        completeUpload(ctx, validateBucketName(bucket), toKey(key), uploadId, parts),
      ),
    abortMultipartUpload: (bucket, key, uploadId) =>
      guard('abort upload', () =>
        abortUpload(ctx, validateBucketName(bucket), toKey(key), uploadId),
      ),
    sweepStaleUploads: (olderThanMs) =>
      guard('sweep uploads', async () => {
        const buckets = (await listBuckets(root)).map((bucket) => bucket.name);
        return sweepUploads(ctx, buckets, olderThanMs);
      }),
  };

  function presign(
    bucket: string,
    key: string,
    options: PresignOptions,
    part?: PresignedPart,
  ): string {
    validateBucketName(bucket);
    objectKeyBytes(key);
    if (!config.presign) {
      throw new BackendError(
        'fs backend: presigning needs presign.baseUrl (and presign.secret) in its config',
      );
    }
    if (!Number.isInteger(options.expiresIn) || options.expiresIn < 1) {
      throw new ValidationError('expiresIn must be a positive whole number of seconds');
    }
    const expires = Math.floor(ctx.clock().getTime() / 1000) + options.expiresIn;
    const { baseUrl, secret } = config.presign;
    const { method } = options;
    return buildPresignedUrl(baseUrl, secret, { bucket, key, method, expires, part });
  }
}

async function listBuckets(root: string): Promise<BucketInfo[]> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(root, { withFileTypes: true });
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const buckets: BucketInfo[] = [];
  for (const dirent of dirents) {
    if (!dirent.isDirectory() || !isBucketName(dirent.name)) continue;
    try {
      const info = await stat(join(root, dirent.name, 'keys'));
      const created = await stat(join(root, dirent.name));
      if (!info.isDirectory()) continue;
      buckets.push({
        name: dirent.name,
        createdAt: created.birthtimeMs > 0 ? created.birthtime : created.mtime,
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  return buckets.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function isBucketName(name: string): boolean {
  try {
    validateBucketName(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Keeps the port's error contract: typed errors and aborts pass through, any other failure
 * (fs I/O, a failing body stream) becomes a BackendError carrying it as `cause`.
 */
async function guard<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof DfstoreError) throw error;
    if (error instanceof Error && error.name === 'AbortError') throw error;
    throw new BackendError(`fs backend: ${operation} failed`, { cause: error });
  }
}
