import { pipeline } from 'node:stream/promises';
import {
  drain,
  header,
  objectHeadersOf,
  type RequestContext,
  readSmallBody,
  sendEmpty,
  sendXml,
} from './http.ts';
import { invalidArgument, notImplemented, OssError } from './oss-error.ts';
import { isSubResource } from './signature.ts';
import { type ObjectRecord, quotedEtag } from './store.ts';
import { parseCompleteMultipartUpload } from './xml.ts';

/** OSS caps object names at 1023 bytes. */
const MAX_KEY_BYTES = 1023;

/** Query parameters of a GET that override response headers (signed sub-resources). */
const RESPONSE_OVERRIDES = [
  'content-type',
  'content-language',
  'expires',
  'cache-control',
  'content-disposition',
  'content-encoding',
];

/** Sub-resources each object operation understands; any other one is answered NotImplemented. */
const HANDLED: Record<string, readonly string[]> = {
  GET: [...RESPONSE_OVERRIDES.map((name) => `response-${name}`), 'security-token'],
  HEAD: ['objectMeta', 'security-token'],
  PUT: ['partNumber', 'uploadId', 'security-token'],
  POST: ['uploads', 'uploadId'],
  DELETE: ['uploadId'],
};

export async function handleObject(ctx: RequestContext, bucket: string, key: string) {
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new OssError(400, 'InvalidObjectName', 'The specified object is not valid.');
  }
  const handled = HANDLED[ctx.method] ?? [];
  const unknown = [...ctx.query.keys()].find(
    (name) => isSubResource(name) && !handled.includes(name),
  );
  if (unknown !== undefined) throw notImplemented(`${ctx.method} ?${unknown}`);
  const { query } = ctx;
  switch (ctx.method) {
    case 'GET':
    case 'HEAD':
      return getObject(ctx, bucket, key);
    case 'PUT':
      if (query.has('uploadId')) return uploadPart(ctx, bucket, key);
      if (header(ctx, 'x-oss-copy-source') !== undefined) return copyObject(ctx, bucket, key);
      return putObject(ctx, bucket, key);
    case 'POST':
      if (query.has('uploads')) return initiateUpload(ctx, bucket, key);
      if (query.has('uploadId')) return completeUpload(ctx, bucket, key);
      throw notImplemented('POST object (append, restore...)');
    case 'DELETE':
      if (query.has('uploadId')) {
        await ctx.uploads.abort(ctx.uploads.get(query.get('uploadId') ?? '', bucket, key));
        return sendEmpty(ctx, 204);
      }
      await ctx.store.delete(bucket, key);
      return sendEmpty(ctx, 204);
    default:
      throw new OssError(
        405,
        'MethodNotAllowed',
        'The specified method is not allowed against this resource.',
      );
  }
}

async function getObject(ctx: RequestContext, bucket: string, key: string) {
  const { record, file } = await ctx.store.openData(bucket, key);
  try {
    const headers = objectResponseHeaders(record);
    let range: { start: number; end: number } | undefined;
    if (ctx.method === 'GET') {
      for (const name of RESPONSE_OVERRIDES) {
        const value = ctx.query.get(`response-${name}`);
        if (value !== null) headers[name] = value;
      }
      const rangeHeader = header(ctx, 'range');
      const standard = header(ctx, 'x-oss-range-behavior') === 'standard';
      if (rangeHeader !== undefined) range = selectRange(rangeHeader, record.size, standard);
    }
    const length = range ? range.end - range.start + 1 : record.size;
    headers['content-length'] = String(length);
    if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${record.size}`;
    ctx.res.writeHead(range ? 206 : 200, headers);
    if (ctx.method === 'HEAD' || length === 0) {
      ctx.res.end();
      return;
    }
    const stream = file.createReadStream({
      start: range?.start ?? 0,
      end: range?.end,
      autoClose: false,
    });
    await pipeline(stream, ctx.res);
  } finally {
    await file.close();
  }
}

/**
 * OSS Range semantics. By default a range that is malformed or reaches past the object is ignored
 * (200, whole object). With `x-oss-range-behavior: standard` an end past the last byte is clamped
 * and a range selecting no byte is 416 InvalidRange. Of several ranges only the first is served.
 */
export function selectRange(value: string, size: number, standard: boolean) {
  const match = /^bytes=(\d*)-(\d*)$/.exec((value.split(',')[0] ?? '').trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const unsatisfiable = () =>
    new OssError(
      416,
      'InvalidRange',
      'The requested range cannot be satisfied',
      { RangeRequested: value, ActualObjectSize: String(size) },
      { 'content-range': `bytes */${size}` },
    );
  const [, first = '', last = ''] = match;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) {
      if (standard) throw unsatisfiable();
      return undefined;
    }
    if (suffix > size && !standard) return undefined;
    return { start: Math.max(size - suffix, 0), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) {
    if (standard) throw unsatisfiable();
    return undefined;
  }
  const end = last === '' ? size - 1 : Number(last);
  if (end >= size && !standard) return undefined;
  return { start, end: Math.min(end, size - 1) };
}

async function putObject(ctx: RequestContext, bucket: string, key: string) {
  ctx.store.bucket(bucket);
  if (
    header(ctx, 'x-oss-forbid-overwrite') === 'true' &&
    ctx.store.bucket(bucket).objects.has(key)
  ) {
    throw new OssError(
      409,
      'FileAlreadyExists',
      'The object you specified already exists and can not be overwritten.',
    );
  }
  const received = await ctx.store.receive(ctx.req, header(ctx, 'content-md5'));
  const record = await ctx.store.commit(bucket, key, received, {
    etag: quotedEtag(received.md5),
    type: 'Normal',
    headers: objectHeadersOf(ctx.req.headers),
  });
  sendEmpty(ctx, 200, { etag: record.etag, 'content-md5': received.md5.toString('base64') });
}

async function copyObject(ctx: RequestContext, bucket: string, key: string) {
  drain(ctx);
  const source = (header(ctx, 'x-oss-copy-source') ?? '').replace(/\?.*$/, '');
  const match = /^\/([^/]+)\/(.+)$/.exec(source);
  if (!match)
    throw invalidArgument(
      'Copy Source must mention the source bucket and key: /sourcebucket/sourcekey.',
      'x-oss-copy-source',
      source,
    );
  const [, sourceBucket = '', encodedKey = ''] = match;
  const directive = header(ctx, 'x-oss-metadata-directive') ?? 'COPY';
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw invalidArgument('Unknown metadata directive.', 'x-oss-metadata-directive', directive);
  }
  ctx.store.bucket(bucket);
  const headers = directive === 'REPLACE' ? objectHeadersOf(ctx.req.headers) : undefined;
  const from = { bucket: decodeURIComponent(sourceBucket), key: decodeURIComponent(encodedKey) };
  const record = await ctx.store.copy(from, { bucket, key }, headers);
  sendXml(
    ctx,
    200,
    'CopyObjectResult',
    { ETag: record.etag, LastModified: record.lastModified },
    { etag: record.etag },
  );
}

async function initiateUpload(ctx: RequestContext, bucket: string, key: string) {
  drain(ctx);
  const upload = await ctx.uploads.initiate(bucket, key, objectHeadersOf(ctx.req.headers));
  sendXml(ctx, 200, 'InitiateMultipartUploadResult', {
    Bucket: bucket,
    Key: key,
    UploadId: upload.id,
  });
}

async function uploadPart(ctx: RequestContext, bucket: string, key: string) {
  const upload = ctx.uploads.get(ctx.query.get('uploadId') ?? '', bucket, key);
  const part = await ctx.uploads.putPart(
    upload,
    ctx.query.get('partNumber'),
    ctx.req,
    header(ctx, 'content-md5'),
  );
  sendEmpty(ctx, 200, { etag: part.etag, 'content-md5': part.md5.toString('base64') });
}

async function completeUpload(ctx: RequestContext, bucket: string, key: string) {
  const upload = ctx.uploads.get(ctx.query.get('uploadId') ?? '', bucket, key);
  const parts = parseCompleteMultipartUpload(await readSmallBody(ctx));
  const record = await ctx.uploads.complete(upload, parts);
  sendXml(
    ctx,
    200,
    'CompleteMultipartUploadResult',
    {
      Location: `http://${ctx.host}/${bucket}/${encodeURIComponent(key)}`,
      Bucket: bucket,
      Key: key,
      ETag: record.etag,
    },
    { etag: record.etag },
  );
}

function objectResponseHeaders(record: ObjectRecord): Record<string, string> {
  return {
    ...record.headers,
    etag: record.etag,
    'last-modified': new Date(record.lastModified).toUTCString(),
    'accept-ranges': 'bytes',
    'x-oss-object-type': record.type,
    'x-oss-storage-class': 'Standard',
  };
}
