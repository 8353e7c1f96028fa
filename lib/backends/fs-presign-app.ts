import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { type Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DfstoreError, RangeNotSatisfiableError } from '../core/errors.ts';
import {
  formatContentRange,
  formatUnsatisfiedContentRange,
  parseRangeHeader,
} from '../core/range.ts';
import type { FsBackend } from './fs-backend.ts';
import { checkPresignedRequest, type PresignedPart, presignedPart } from './fs-presign.ts';
import type { ObjectBackend, ObjectMetadata } from './object-backend.ts';

export interface FsPresignAppOptions {
  /** The fs backend's `presign.secret`. */
  readonly secret: string;
  readonly clock?: () => Date;
  /** Told about 5xx failures (whose details the response hides). */
  readonly onServerError?: (error: unknown) => void;
}

/**
 * Serves the fs backend's presigned URLs (see fs-presign.ts) at `/:bucket/*key`, to be mounted
 * at the path of `presign.baseUrl`. GET (and HEAD) stream the object, honouring one `Range`;
 * PUT streams the request body into the backend; a PUT to a part URL (presignUploadPart) stores
 * that part of a multipart upload, which needs the fs backend itself (others answer 501), and
 * answers its ETag. Unsigned, tampered, expired or wrong-method requests get 403
 * `{"errors": reason, "code": "ERR_FORBIDDEN"}`.
 */
export function createFsPresignApp(backend: ObjectBackend, options: FsPresignAppOptions): Hono {
  const clock = options.clock ?? (() => new Date());
  const app = new Hono();

  // Hono also dispatches HEAD here (as GET) and drops the body; HEAD is answered from headObject.
  app.on(['GET', 'PUT'], '/:bucket/:key{.+}', async (c) => {
    const bucket = c.req.param('bucket');
    const key = c.req.param('key');
    const refusal = checkPresignedRequest(options.secret, {
      method: c.req.method === 'PUT' ? 'PUT' : 'GET',
      bucket,
      key,
      query: (name) => c.req.query(name),
      now: clock(),
    });
    if (refusal) return c.json({ errors: refusal, code: 'ERR_FORBIDDEN' }, 403);
    const part = presignedPart((name) => c.req.query(name));
    if (part) return servePartPut(c, backend, bucket, key, part);
    if (c.req.method === 'PUT') return servePut(c, backend, bucket, key);
    if (c.req.method === 'HEAD') {
      const metadata = await backend.headObject(bucket, key);
      return c.body(null, 200, objectHeaders(metadata, metadata.contentLength));
    }
    return serveGet(c, backend, bucket, key);
  });

  app.notFound((c) => c.json({ errors: 'Not Found', code: 'ERR_NOT_FOUND' }, 404));
  app.onError((error, c) => {
    if (!(error instanceof DfstoreError) || !error.exposeMessage) {
      options.onServerError?.(error);
      const code = error instanceof DfstoreError ? error.code : 'ERR_INTERNAL';
      return c.json({ errors: 'Internal Server Error', code }, 500);
    }
    if (error instanceof RangeNotSatisfiableError && error.size !== undefined) {
      c.header('Content-Range', formatUnsatisfiedContentRange(error.size));
    }
    return c.json(
      { errors: error.message, code: error.code },
      error.statusCode as ContentfulStatusCode,
    );
  });
  return app;
}

async function serveGet(
  c: Context,
  backend: ObjectBackend,
  bucket: string,
  key: string,
): Promise<Response> {
  const rangeHeader = c.req.header('range');
  const range = rangeHeader ? parseRangeHeader(rangeHeader) : undefined;
  const { metadata, body, range: served } = await backend.getObject(bucket, key, { range });
  const headers = objectHeaders(metadata, served?.length ?? metadata.contentLength);
  if (served) headers['Content-Range'] = formatContentRange(served, metadata.contentLength);
  // A web stream pulled by the server as the socket drains: the object is never buffered whole.
  return new Response(Readable.toWeb(body) as ReadableStream<Uint8Array>, {
    status: served ? 206 : 200,
    headers,
  });
}

async function servePut(
  c: Context,
  backend: ObjectBackend,
  bucket: string,
  key: string,
): Promise<Response> {
  const { etag } = await backend.putObject(bucket, key, requestBody(c), {
    contentLength: contentLength(c),
    contentType: c.req.header('content-type'),
    contentDisposition: c.req.header('content-disposition'),
    contentEncoding: c.req.header('content-encoding'),
    contentLanguage: c.req.header('content-language'),
  });
  return c.body(null, 200, { ETag: etag });
}

async function servePartPut(
  c: Context,
  backend: ObjectBackend,
  bucket: string,
  key: string,
  part: PresignedPart,
): Promise<Response> {
  if (!hasPartWriter(backend)) {
    return c.json(
      { errors: 'multipart uploads need the fs backend', code: 'ERR_NOT_IMPLEMENTED' },
      501,
    );
  }
  const { uploadId, partNumber } = part;
  const { etag } = await backend.uploadPart(bucket, key, uploadId, partNumber, requestBody(c), {
    contentLength: contentLength(c),
  });
  return c.body(null, 200, { ETag: etag });
}

function hasPartWriter(backend: ObjectBackend): backend is FsBackend {
  return typeof (backend as Partial<FsBackend>).uploadPart === 'function';
}

function requestBody(c: Context): Readable {
  const stream = c.req.raw.body;
  return stream ? Readable.fromWeb(stream as WebReadableStream<Uint8Array>) : Readable.from([]);
}

function contentLength(c: Context): number | undefined {
  const length = c.req.header('content-length');
  return length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
}

function objectHeaders(metadata: ObjectMetadata, length: number): Record<string, string> {
  const headers: Record<string, string> = {
    'Accept-Ranges': 'bytes',
    'Content-Length': String(length),
    'Content-Type': metadata.contentType ?? 'application/octet-stream',
    ETag: metadata.etag,
    'Last-Modified': metadata.lastModified.toUTCString(),
  };
  if (metadata.contentDisposition) headers['Content-Disposition'] = metadata.contentDisposition;
  if (metadata.contentEncoding) headers['Content-Encoding'] = metadata.contentEncoding;
  if (metadata.contentLanguage) headers['Content-Language'] = metadata.contentLanguage;
  return headers;
}
