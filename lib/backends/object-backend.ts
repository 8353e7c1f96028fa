import type { Readable } from 'node:stream';
import { NotFoundError } from '../core/errors.ts';
import type { RangeSpec, ResolvedRange } from '../core/range.ts';

/**
 * The object backend port: where objects live durably (S3, OSS, or a local directory).
 *
 * Contract for every adapter:
 * - A missing object throws `ObjectNotFoundError`; a missing bucket throws `BucketNotFoundError`
 *   (HEAD cannot tell them apart on S3/OSS and may throw either; both are `NotFoundError`).
 * - A range that selects no byte throws `RangeNotSatisfiableError`.
 * - Rejected credentials throw `BackendAuthError`; every other vendor failure is wrapped in
 *   `BackendError` with the vendor error as `cause`. SDK errors never leak past the adapter.
 * - Bodies stream both ways; no method holds a whole object in memory.
 * - The object digest (`md5:<hex>`) is stored as user metadata `digest` and read back.
 * - Multipart sessions are bound to bucket + key: an upload id that the backend does not know for
 *   that key (never created, aborted, completed, or another key's) throws `UploadNotFoundError`.
 */
export interface ObjectBackend {
  /** `s3`, `oss` or `fs`, as reported by `GET /metadata`. */
  readonly name: BackendName;
  readonly region: string;
  readonly endpoint: string;

  headObject(bucket: string, key: string): Promise<ObjectMetadata>;
  getObject(bucket: string, key: string, options?: GetObjectOptions): Promise<GetObjectResult>;
  putObject(
    bucket: string,
    key: string,
    body: Readable,
    options?: PutObjectOptions,
  ): Promise<PutObjectResult>;
  /** Idempotent: deleting a missing object succeeds. */
  deleteObject(bucket: string, key: string): Promise<void>;
  /** Server-side copy within one bucket; metadata (digest, content type) is kept. */
  copyObject(bucket: string, sourceKey: string, destinationKey: string): Promise<PutObjectResult>;
  listObjects(bucket: string, options?: ListObjectsOptions): Promise<ListObjectsResult>;

  createBucket(bucket: string): Promise<void>;
  /** Whether the bucket exists (false, not an error, when it does not). */
  bucketExists(bucket: string): Promise<boolean>;
  listBuckets(): Promise<BucketInfo[]>;
  /** Deletes an empty bucket; a missing bucket throws `BucketNotFoundError`. */
  deleteBucket(bucket: string): Promise<void>;

  /** A URL that grants `method` on the object to any plain HTTP client until it expires. */
  presignUrl(bucket: string, key: string, options: PresignOptions): Promise<string>;

  /**
   * Starts a multipart upload session (bodies too large for the object API travel straight from
   * the client to the backend, part by part); the object appears only on complete. Sessions never
   * completed or aborted keep their parts: S3 and OSS buckets need a lifecycle rule that aborts
   * incomplete multipart uploads, the fs backend has `sweepStaleUploads`.
   */
  createMultipartUpload(
    bucket: string,
    key: string,
    options?: CreateMultipartUploadOptions,
  ): Promise<MultipartUpload>;
  /**
   * A URL any plain HTTP client can PUT part `partNumber` (1..MAX_PART_NUMBER) to until it
   * expires; the answer's `ETag` header identifies the part for complete. Send the bytes with no
   * Content-Type or Content-MD5 header (OSS signs both). Signed locally: an unknown upload shows
   * up as a 404 to the PUT (or as `UploadNotFoundError` where the adapter can tell at once).
   * A bad part number or expiry throws `ValidationError`.
   */
  presignUploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    options: PresignUploadPartOptions,
  ): Promise<string>;
  /**
   * Completes the upload from `parts` (ascending part numbers, each with the ETag its PUT
   * answered) and returns the object's ETag (S3 style: `"<md5 of the part md5s>-<count>"`).
   * Every part but the last must be at least the backend's minimum size (MIN_PART_SIZE works on
   * all). A part list the backend refuses (an unknown part or a wrong ETag, parts out of order,
   * a part too small) throws `ValidationError` naming the reason and leaves the upload open, so
   * the caller can retry or abort; an unknown upload throws `UploadNotFoundError`.
   */
  completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: readonly CompletedPart[],
  ): Promise<PutObjectResult>;
  /** Drops the upload and its parts. Idempotent: an unknown or finished upload succeeds. */
  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void>;
}

export type BackendName = 's3' | 'oss' | 'fs';

export interface ObjectMetadata {
  readonly key: string;
  readonly contentLength: number;
  readonly contentType?: string;
  readonly contentDisposition?: string;
  readonly contentEncoding?: string;
  readonly contentLanguage?: string;
  /** Quoted HTTP entity tag, e.g. `"9e107d9d..."`. */
  readonly etag: string;
  /** Object digest from user metadata `digest`, e.g. `md5:<hex>`, when the writer stored one. */
  readonly digest?: string;
  readonly lastModified: Date;
  readonly storageClass?: string;
}

export interface GetObjectOptions {
  readonly range?: RangeSpec;
  readonly signal?: AbortSignal;
}

export interface GetObjectResult {
  /** Metadata of the whole object (contentLength is the full size, not the range's). */
  readonly metadata: ObjectMetadata;
  /** The bytes asked for: the whole object, or exactly the resolved range. */
  readonly body: Readable;
  /** The range served, when one was asked for. */
  readonly range?: ResolvedRange;
}

export interface PutObjectOptions {
  /** Exact length when known; lets adapters skip multipart for small bodies. */
  readonly contentLength?: number;
  readonly contentType?: string;
  readonly contentDisposition?: string;
  readonly contentEncoding?: string;
  readonly contentLanguage?: string;
  /** Object digest stored as user metadata `digest` (`md5:<hex>`). */
  readonly digest?: string;
  readonly signal?: AbortSignal;
}

export interface PutObjectResult {
  readonly etag: string;
}

export interface ListObjectsOptions {
  readonly prefix?: string;
  /** Start after this key (exclusive). */
  readonly marker?: string;
  readonly delimiter?: string;
  /** At most this many entries (objects + common prefixes); 1..1000, default 1000. */
  readonly limit?: number;
}

export interface ListObjectsResult {
  readonly objects: ObjectMetadata[];
  readonly commonPrefixes: string[];
  readonly isTruncated: boolean;
  /** Pass as `marker` to get the next page (set when truncated). */
  readonly nextMarker?: string;
}

export interface BucketInfo {
  readonly name: string;
  readonly createdAt?: Date;
}

export interface PresignOptions {
  readonly method: 'GET' | 'PUT';
  /** Lifetime in seconds. */
  readonly expiresIn: number;
}

export interface CreateMultipartUploadOptions {
  readonly contentType?: string;
  /** Object digest stored as user metadata `digest` (`md5:<hex>`), as putObject does. */
  readonly digest?: string;
}

export interface MultipartUpload {
  readonly uploadId: string;
}

export interface PresignUploadPartOptions {
  /** Lifetime in seconds. */
  readonly expiresInSeconds: number;
}

export interface CompletedPart {
  readonly partNumber: number;
  /** The ETag header the part's PUT answered (quoted or not). */
  readonly etag: string;
}

/** Default and maximum page size of listObjects. */
export const MAX_LIST_LIMIT = 1000;

/**
 * Smallest part (but the last) that every backend accepts: S3's minimum (OSS takes 100 KiB; the
 * fs backend enforces S3's so that it stands in for S3 faithfully).
 */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** Highest part number (S3 and OSS alike). */
export const MAX_PART_NUMBER = 10_000;

/**
 * A multipart upload the backend does not know for that bucket + key (S3/OSS `NoSuchUpload`).
 * Declared with the port because only multipart sessions throw it.
 */
export class UploadNotFoundError extends NotFoundError {
  override readonly name = 'UploadNotFoundError';
  override readonly code = 'ERR_UPLOAD_NOT_FOUND';
  constructor(
    readonly uploadId: string,
    options?: ErrorOptions,
  ) {
    super('multipart upload not found (unknown, aborted or already completed)', options);
  }
}
