import type { Readable } from 'node:stream';
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

/** Default and maximum page size of listObjects. */
export const MAX_LIST_LIMIT = 1000;
