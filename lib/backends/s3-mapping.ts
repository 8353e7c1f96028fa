import type { ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { DIGEST_METADATA_KEY } from '../core/headers.ts';
import type { ResolvedRange } from '../core/range.ts';
import type { ListObjectsResult, ObjectMetadata } from './object-backend.ts';

/** Pure mapping between S3 shapes and the port's, kept apart from the I/O of s3-backend.ts. */

/** The header fields HeadObject and GetObject outputs share. */
export interface S3ObjectHeaders {
  readonly ContentType?: string;
  readonly ContentDisposition?: string;
  readonly ContentEncoding?: string;
  readonly ContentLanguage?: string;
  readonly ETag?: string;
  readonly LastModified?: Date;
  readonly StorageClass?: string;
  readonly Metadata?: Record<string, string>;
}

export function toObjectMetadata(
  key: string,
  out: S3ObjectHeaders,
  contentLength: number,
): ObjectMetadata {
  // S3 lower-cases user metadata keys; other servers may not.
  const digest = Object.entries(out.Metadata ?? {}).find(
    ([name]) => name.toLowerCase() === DIGEST_METADATA_KEY,
  )?.[1];
  return {
    key,
    contentLength,
    contentType: out.ContentType,
    contentDisposition: out.ContentDisposition,
    contentEncoding: out.ContentEncoding,
    contentLanguage: out.ContentLanguage,
    etag: quoteEtag(out.ETag),
    digest,
    lastModified: out.LastModified ?? new Date(0),
    storageClass: out.StorageClass,
  };
}

/** The port promises the quoted HTTP form; RGW returns CopyObject ETags unquoted. */
export function quoteEtag(etag: string | undefined): string {
  if (!etag) return '""';
  return etag.startsWith('"') || etag.startsWith('W/"') ? etag : `"${etag}"`;
}

const CONTENT_RANGE_RE = /^bytes (\d+)-(\d+)\/(\d+)$/;

/** `bytes a-b/size` (a 206 answer) → the range served and the whole object's size. */
export function parseContentRange(
  value: string | undefined,
): { range: ResolvedRange; size: number } | undefined {
  const match = value ? CONTENT_RANGE_RE.exec(value.trim()) : null;
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  return { range: { start, end, length: end - start + 1 }, size: Number(match[3]) };
}

/** `bucket/key` for CopySource, which the SDK sends verbatim: each key segment URL-encoded. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

export function toListObjectsResult(out: ListObjectsV2CommandOutput): ListObjectsResult {
  const objects = (out.Contents ?? []).map(
    (o): ObjectMetadata => ({
      key: o.Key ?? '',
      contentLength: o.Size ?? 0,
      etag: quoteEtag(o.ETag),
      lastModified: o.LastModified ?? new Date(0),
      storageClass: o.StorageClass,
    }),
  );
  const commonPrefixes = (out.CommonPrefixes ?? []).flatMap((p) => (p.Prefix ? [p.Prefix] : []));
  const isTruncated = out.IsTruncated === true;
  // Objects and prefixes interleave in key (UTF-8 byte) order, so the page ends at the greater of
  // the two lasts. As StartAfter, a common prefix skips all keys under it (S3 and RGW alike).
  const nextMarker = isTruncated
    ? [objects.at(-1)?.key, commonPrefixes.at(-1)]
        .filter((k): k is string => k !== undefined)
        .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
        .at(-1)
    : undefined;
  return { objects, commonPrefixes, isTruncated, nextMarker };
}
