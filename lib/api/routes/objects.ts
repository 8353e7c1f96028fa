import type { Readable } from 'node:stream';
import type { Context } from 'hono';
import type { ObjectMetadata } from '../../backends/object-backend.ts';
import { ValidationError } from '../../core/errors.ts';
import {
  COPY_OPERATION,
  DEFAULT_STORAGE_CLASS,
  HeaderNames,
  Headers,
  REPLICA_HEADER,
} from '../../core/headers.ts';
import { formatContentRange, parseRangeHeader } from '../../core/range.ts';
import { nodeBody, parseMultipartStream } from '../multipart.ts';
import { objectPath } from '../object-path.ts';
import type { ObjectService } from '../object-service.ts';
import { parsePutFields } from '../schemas.ts';
import { streamResponse } from '../stream-response.ts';
import { assertDeclaredSize, limitFileStream, readCopyForm } from '../upload-limit.ts';

interface NodeBindings {
  incoming?: Readable;
}

/** HEAD /buckets/:bucket/objects/*key */
export async function headObject(c: Context, service: ObjectService): Promise<Response> {
  const { bucket, key } = objectPath(c);
  const metadata = await service.headObject(bucket, key);
  setObjectHeaders(c, metadata);
  c.header('Content-Length', String(metadata.contentLength));
  return c.body(null, 200);
}

/** GET /buckets/:bucket/objects/*key[?filter=] with an optional single Range. */
export async function getObject(c: Context, service: ObjectService): Promise<Response> {
  const { bucket, key } = objectPath(c);
  const rangeHeader = c.req.header('range');
  const range = rangeHeader ? parseRangeHeader(rangeHeader) : undefined;
  const filter = c.req.query('filter');
  const raw = c.req.raw;
  const options = {
    range,
    filter: filter || undefined,
    // Lazy: @hono/node-server makes an AbortController on first access, which a cache hit
    // never needs (a signal taken after the client left is aborted already).
    get signal() {
      return raw.signal;
    },
  };
  const result = service.getObjectOrRedirect
    ? await service.getObjectOrRedirect(bucket, key, options)
    : await service.getObject(bucket, key, options);
  if ('redirect' in result) return c.redirect(result.redirect, 307);
  setObjectHeaders(c, result.metadata);
  if (result.range) {
    c.header('Content-Range', formatContentRange(result.range, result.metadata.contentLength));
    c.header('Content-Length', String(result.range.length));
    return streamResponse(c, result.body, 206);
  }
  c.header('Content-Length', String(result.metadata.contentLength));
  return streamResponse(c, result.body, 200);
}

/**
 * PUT /buckets/:bucket/objects/*key: a multipart upload, or a copy when the header says so.
 * A file over `maxObjectSize` bytes is refused with 413, before anything is written when the
 * Content-Length says so, else as soon as the limit is crossed.
 */
export async function putObject(
  c: Context,
  service: ObjectService,
  maxObjectSize = Number.POSITIVE_INFINITY,
): Promise<Response> {
  if (c.req.header(Headers.objectOperation) === COPY_OPERATION) return copyObject(c, service);
  const { bucket, key } = objectPath(c);
  assertDeclaredSize(c, maxObjectSize);
  const body = nodeBody(c.req.raw, (c.env as NodeBindings | undefined)?.incoming);
  const form = parseMultipartStream(body, { 'content-type': c.req.header('content-type') });
  const file = await form.file;
  const length = Number(c.req.header('content-length'));
  await service.putObject(bucket, key, {
    body: Number.isFinite(maxObjectSize)
      ? limitFileStream(c, file.stream, maxObjectSize)
      : file.stream,
    fileName: file.fileName,
    contentType: file.contentType,
    sizeHint: Number.isSafeInteger(length) && length >= 0 ? length : undefined,
    replica: c.req.header(REPLICA_HEADER) === '1',
    form: async () => parsePutFields(await form.fields),
  });
  return c.body(null, 200);
}

/** PUT with `X-Dragonfly-Object-Operation: copy` and a `source_object_key` form field. */
async function copyObject(c: Context, service: ObjectService): Promise<Response> {
  const { bucket, key } = objectPath(c);
  const source = (await readCopyForm(c)).get('source_object_key');
  if (typeof source !== 'string' || source === '') {
    throw new ValidationError('source_object_key is required');
  }
  await service.copyObject(bucket, source.replace(/^\//, ''), key);
  return c.body(null, 200);
}

/** DELETE /buckets/:bucket/objects/*key: 200 also for a missing key. */
export async function deleteObject(c: Context, service: ObjectService): Promise<Response> {
  const { bucket, key } = objectPath(c);
  await service.deleteObject(bucket, key);
  return c.body(null, 200);
}

/** Upstream's metadata headers (empty values omitted) plus standard Last-Modified/Accept-Ranges. */
function setObjectHeaders(c: Context, m: ObjectMetadata): void {
  const set = (name: string, value: string | undefined) => {
    if (value) c.header(name, value);
  };
  set('Content-Disposition', m.contentDisposition);
  set('Content-Encoding', m.contentEncoding);
  set('Content-Language', m.contentLanguage);
  c.header('Content-Type', m.contentType || 'application/octet-stream');
  set('ETag', m.etag);
  set(HeaderNames.digest, m.digest);
  const lastModified = m.lastModified.toUTCString();
  c.header(HeaderNames.lastModifiedTime, lastModified);
  c.header('Last-Modified', lastModified);
  c.header(HeaderNames.storageClass, m.storageClass || DEFAULT_STORAGE_CLASS);
  c.header('Accept-Ranges', 'bytes');
}
