import type { Readable } from 'node:stream';
import { PayloadTooLargeError } from '../core/errors.ts';

/**
 * Room for the multipart framing and form fields around the file part of a PUT (the API caps
 * the fields at 16 × 4 KiB): a request up to `limit + FORM_OVERHEAD` bytes may still hold an
 * object within the limit.
 */
export const FORM_OVERHEAD_BYTES = 80 * 1024;

/** `4 MiB`, `512 KiB` or `1000 bytes`. */
export function formatLimit(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/** The 413 the Go CLI shows as is: it names the limit and the way out. */
export function objectTooLarge(limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `object larger than the ${formatLimit(limit)} inline limit of this endpoint: use an upload session (the dfstore CLI does this by itself)`,
  );
}

/**
 * Reads a body of at most `limit` bytes into memory (the function holds the whole request
 * anyway: a function URL hands it over as one event). One byte more rejects with the 413; the
 * rest of the body is drained, not kept, so that the form parser still reaches its end.
 */
export function readWithin(body: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    body.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        reject(objectTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    body.once('end', () => {
      if (!over) resolve(Buffer.concat(chunks, size));
    });
    body.once('error', reject);
  });
}
