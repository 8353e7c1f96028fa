import { pipeline, type Readable, Transform } from 'node:stream';
import type { Context } from 'hono';
import { PayloadTooLargeError, ValidationError } from '../core/errors.ts';

/**
 * Bytes a PUT's multipart body may carry besides the file: the text fields (at most 16 × 4 KiB,
 * see multipart.ts), part headers and boundaries.
 */
export const MULTIPART_OVERHEAD = 128 * 1024;

/** The copy form holds one short field; its body is read whole, so it is bounded. */
export const MAX_COPY_FORM_BYTES = 64 * 1024;

/**
 * A declared `Content-Length` that cannot fit under `maxObjectSize` is refused before a byte of
 * the body is read. The connection is closed after the answer, rather than drained.
 */
export function assertDeclaredSize(c: Context, maxObjectSize: number): void {
  const declared = Number(c.req.header('content-length'));
  if (Number.isSafeInteger(declared) && declared > maxObjectSize + MULTIPART_OVERHEAD) {
    throw tooLarge(c, maxObjectSize);
  }
}

/**
 * `file` as it streams, failing with PayloadTooLargeError (413) once more than `maxObjectSize`
 * bytes went through: chunked bodies have no Content-Length to check up front. The storage
 * layer discards what it staged when its source fails.
 */
export function limitFileStream(c: Context, file: Readable, maxObjectSize: number): Readable {
  let seen = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > maxObjectSize) return callback(tooLarge(c, maxObjectSize));
      callback(null, chunk);
    },
  });
  // pipeline, not pipe: `file` may have failed already (a truncated body), and the error must
  // reach the reader instead of leaving it waiting for an end that never comes.
  return pipeline(file, limiter, () => {});
}

/** The body of a copy request, at most MAX_COPY_FORM_BYTES, as form data. */
export async function readCopyForm(c: Context): Promise<FormData> {
  const declared = Number(c.req.header('content-length'));
  if (declared > MAX_COPY_FORM_BYTES) throw tooLarge(c, MAX_COPY_FORM_BYTES);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const body = c.req.raw.body;
  if (body) {
    for await (const chunk of body) {
      size += chunk.length;
      if (size > MAX_COPY_FORM_BYTES) throw tooLarge(c, MAX_COPY_FORM_BYTES);
      chunks.push(chunk);
    }
  }
  const contentType = c.req.header('content-type') ?? '';
  try {
    const bounded = new Request('http://copy.invalid/', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: Buffer.concat(chunks),
    });
    return await bounded.formData();
  } catch {
    throw new ValidationError('invalid copy form');
  }
}

function tooLarge(c: Context, limit: number): PayloadTooLargeError {
  // What is left of the body is not worth reading: answer, then close.
  c.header('Connection', 'close');
  return new PayloadTooLargeError(`request body is larger than the limit of ${limit} bytes`);
}
