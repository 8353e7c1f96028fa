import type { Context } from 'hono';
import type { ObjectMetadata } from '../../backends/object-backend.ts';
import { DEFAULT_STORAGE_CLASS } from '../../core/headers.ts';
import { bucketPath } from '../object-path.ts';
import type { ObjectService } from '../object-service.ts';
import { parseListQuery } from '../schemas.ts';

/** POST /buckets/:bucket */
export async function createBucket(c: Context, service: ObjectService): Promise<Response> {
  await service.createBucket(bucketPath(c));
  return c.body(null, 200);
}

/** GET /buckets/:bucket/metadatas?prefix&marker&delimiter&limit (Go field names as JSON keys). */
export async function listMetadatas(c: Context, service: ObjectService): Promise<Response> {
  const bucket = bucketPath(c);
  const page = await service.listObjects(bucket, parseListQuery(c.req.query()));
  return c.json({
    CommonPrefixes: page.commonPrefixes,
    Metadatas: page.objects.map(toGoMetadata),
  });
}

function toGoMetadata(m: ObjectMetadata) {
  return {
    Key: m.key,
    ContentDisposition: m.contentDisposition ?? '',
    ContentEncoding: m.contentEncoding ?? '',
    ContentLanguage: m.contentLanguage ?? '',
    ContentLength: m.contentLength,
    ContentType: m.contentType ?? '',
    ETag: m.etag,
    Digest: m.digest ?? '',
    LastModifiedTime: m.lastModified.toISOString(),
    StorageClass: m.storageClass || DEFAULT_STORAGE_CLASS,
  };
}
