import type { IncomingHttpHeaders } from 'node:http';
import * as z from 'zod';
import type { ObjectMetadata } from '../backends/object-backend.ts';
import { Headers } from '../core/headers.ts';

/** One page of `GET /buckets/:bucket/metadatas`. */
export interface ListObjectsPage {
  readonly objects: ObjectMetadata[];
  readonly commonPrefixes: string[];
}

/** `GET /metadata`: the backend behind the service. */
export interface ServiceMetadata {
  readonly name: string;
  readonly region: string;
  readonly endpoint: string;
  /** The object API function's inline body limit (bytes): larger files need an upload session. */
  readonly inlineLimit?: number;
}

/**
 * Object metadata from HEAD/GET headers. ETag comes from `ETag` (upstream's Go client fills it
 * from Content-Type, a bug). Headers of a presigned S3/OSS answer (after a 307) are understood
 * too: the digest from `x-amz-meta-digest`/`x-oss-meta-digest`, the time from `Last-Modified`.
 * `contentLength` is the whole object's size, also for a 206 (taken from Content-Range).
 */
export function metadataFromHeaders(key: string, headers: IncomingHttpHeaders): ObjectMetadata {
  const get = (name: string): string | undefined => {
    const value = headers[name];
    const text = Array.isArray(value) ? value[0] : value;
    return text === undefined || text === '' ? undefined : text;
  };
  const total = /\/(\d+)$/.exec(get('content-range') ?? '')?.[1];
  const length = Number(total ?? get('content-length') ?? Number.NaN);
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new Error(`invalid Content-Length in response for key ${JSON.stringify(key)}`);
  }
  const time = get(Headers.lastModifiedTime) ?? get('last-modified');
  return {
    key,
    contentLength: length,
    contentType: get('content-type'),
    contentDisposition: get('content-disposition'),
    contentEncoding: get('content-encoding'),
    contentLanguage: get('content-language'),
    etag: get('etag') ?? '',
    digest: get(Headers.digest) ?? get('x-amz-meta-digest') ?? get('x-oss-meta-digest'),
    lastModified: time ? new Date(time) : new Date(0),
    storageClass:
      get(Headers.storageClass) ?? get('x-amz-storage-class') ?? get('x-oss-storage-class'),
  };
}

const text = z
  .string()
  .nullish()
  .transform((value) => value ?? '');

/** One `ObjectMetadata` as Go marshals it (field names as keys; `null`s tolerated). */
const goMetadataSchema = z.object({
  Key: z.string(),
  ContentDisposition: text,
  ContentEncoding: text,
  ContentLanguage: text,
  ContentLength: z.number().int().nonnegative(),
  ContentType: text,
  ETag: text,
  Digest: text,
  LastModifiedTime: text,
  StorageClass: text,
});

const goListSchema = z.object({
  CommonPrefixes: z
    .array(z.string())
    .nullish()
    .transform((value) => value ?? []),
  Metadatas: z
    .array(goMetadataSchema)
    .nullish()
    .transform((value) => value ?? []),
});

const goServiceSchema = z.object({
  Name: text,
  Region: text,
  Endpoint: text,
  inlineLimit: z.number().int().positive().optional(),
});

/** Parses a list page; throws with the first schema issue when the body is not one. */
export function parseListPage(body: unknown): ListObjectsPage {
  const parsed = goListSchema.safeParse(body);
  if (!parsed.success) throw new Error(`invalid object list: ${parsed.error.issues[0]?.message}`);
  return {
    commonPrefixes: parsed.data.CommonPrefixes,
    objects: parsed.data.Metadatas.map((m) => ({
      key: m.Key,
      contentLength: m.ContentLength,
      contentType: m.ContentType || undefined,
      contentDisposition: m.ContentDisposition || undefined,
      contentEncoding: m.ContentEncoding || undefined,
      contentLanguage: m.ContentLanguage || undefined,
      etag: m.ETag,
      digest: m.Digest || undefined,
      lastModified: new Date(m.LastModifiedTime || 0),
      storageClass: m.StorageClass || undefined,
    })),
  };
}

export function parseServiceMetadata(body: unknown): ServiceMetadata {
  const parsed = goServiceSchema.safeParse(body);
  if (!parsed.success) throw new Error('invalid service metadata');
  const { Name: name, Region: region, Endpoint: endpoint, inlineLimit } = parsed.data;
  return inlineLimit === undefined
    ? { name, region, endpoint }
    : { name, region, endpoint, inlineLimit };
}
