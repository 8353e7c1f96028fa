import OSS from 'ali-oss';
import type { OssBackendConfig } from '../config/backend-config.ts';
import { ValidationError } from '../core/errors.ts';
import type { ObjectMetadata, PutObjectOptions } from './object-backend.ts';

/** Response headers as ali-oss hands them over (lower-case names). */
export type ResponseHeaders = Record<string, string | undefined>;

/** What ali-oss's listBuckets resolves to (its typings say `Bucket[]`, which it is not). */
export interface ListBucketsPage {
  readonly buckets: { name: string; creationDate: string }[] | null;
  readonly isTruncated: boolean;
  readonly nextMarker: string | null;
}

/** OSS bucket names: ali-oss refuses other names with a plain Error before any request. */
const BUCKET_RE = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
/** Existing buckets may be older names with `_`, which ali-oss still accepts for access. */
const LEGACY_BUCKET_RE = /^[a-z0-9_][a-z0-9-_]{1,61}[a-z0-9_]$/;

export function createOssClient(config: OssBackendConfig): OSS {
  return new OSS({
    region: config.region,
    endpoint: config.endpoint,
    accessKeyId: config.accessKeyId,
    accessKeySecret: config.accessKeySecret,
    stsToken: config.securityToken,
    secure: config.secure,
    timeout: config.timeoutMs,
    sldEnable: config.sldEnable,
  } as OSS.Options);
}

/** Throws ValidationError for a name OSS cannot have (stricter when creating). */
export function checkBucketName(bucket: string, creating = false): void {
  if (!(creating ? BUCKET_RE : LEGACY_BUCKET_RE).test(bucket)) {
    throw new ValidationError(`invalid OSS bucket name ${JSON.stringify(bucket)}`);
  }
}

/**
 * ali-oss keeps the bucket of object operations in client state (`useBucket`), which concurrent
 * requests to different buckets would race on. A view per call shares the client (agent,
 * credentials) and carries its own options holding the bucket.
 */
export function inBucket(client: OSS, bucket: string): OSS {
  checkBucketName(bucket);
  const { options } = client as unknown as { options: Record<string, unknown> };
  return Object.create(client, {
    options: { value: { ...options, bucket }, writable: true, configurable: true },
  }) as OSS;
}

/** Request headers of an upload; the digest travels as user metadata `x-oss-meta-digest`. */
export function objectHeaders(options: PutObjectOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  if (options.contentType) headers['Content-Type'] = options.contentType;
  if (options.contentDisposition) headers['Content-Disposition'] = options.contentDisposition;
  if (options.contentEncoding) headers['Content-Encoding'] = options.contentEncoding;
  if (options.contentLanguage) headers['Content-Language'] = options.contentLanguage;
  if (options.digest) headers['x-oss-meta-digest'] = options.digest;
  return headers;
}

export function toMetadata(
  key: string,
  headers: ResponseHeaders,
  contentLength: number,
): ObjectMetadata {
  const lastModified = headers['last-modified'];
  return {
    key,
    contentLength,
    contentType: headers['content-type'],
    contentDisposition: headers['content-disposition'],
    contentEncoding: headers['content-encoding'],
    contentLanguage: headers['content-language'],
    etag: headers.etag ?? '',
    digest: headers['x-oss-meta-digest'],
    lastModified: lastModified ? new Date(lastModified) : new Date(0),
    storageClass: headers['x-oss-storage-class'],
  };
}

/** Keys and prefixes of a listing with `encoding-type=url` (a raw `+` never occurs in them). */
export function decodeListed(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, '%20'));
}
