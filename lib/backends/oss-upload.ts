import { createHash } from 'node:crypto';
import type OSS from 'ali-oss';
import { ValidationError } from '../core/errors.ts';

export interface PartUploadOptions {
  readonly partSize: number;
  /** Parts in flight at once; with the one being filled, at most `parallel + 1` part buffers. */
  readonly parallel: number;
  readonly timeout: number;
  /** Object headers and user metadata, given at initiation. */
  readonly init: OSS.InitMultipartUploadOptions;
  readonly signal?: AbortSignal;
}

/**
 * Uploads `parts` (each but the last exactly partSize bytes) as one multipart upload and returns
 * the object's ETag. Parts are read lazily, so only the parts in flight are in memory; each goes
 * up with its Content-MD5. Any failure aborts the upload on the server and is rethrown.
 */
export async function uploadInParts(
  client: OSS,
  key: string,
  parts: AsyncIterable<Buffer>,
  options: PartUploadOptions,
): Promise<string> {
  const { timeout, signal } = options;
  const { uploadId } = await client.initMultipartUpload(key, { ...options.init, timeout });
  const done: { number: number; etag: string }[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  try {
    let number = 0;
    for await (const part of parts) {
      signal?.throwIfAborted();
      if (failure) break;
      const partNumber = ++number;
      const headers = { 'Content-MD5': createHash('md5').update(part).digest('base64') };
      const task: Promise<void> = client
        .uploadPart(key, uploadId, partNumber, part, 0, part.length, {
          timeout,
          headers,
        } as OSS.RequestOptions)
        .then(
          ({ etag }) => {
            done.push({ number: partNumber, etag });
          },
          (error: unknown) => {
            failure ??= { error };
          },
        )
        .finally(() => inFlight.delete(task));
      inFlight.add(task);
      if (inFlight.size >= options.parallel) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if (failure) throw failure.error;
    signal?.throwIfAborted();
    const result = await client.completeMultipartUpload(key, uploadId, done, { timeout });
    return result.etag;
  } catch (error) {
    await Promise.allSettled(inFlight);
    await client.abortMultipartUpload(key, uploadId, { timeout }).catch(() => {});
    throw error;
  }
}

/**
 * Re-chunks a byte stream into buffers of exactly `size` bytes (the last one shorter, never
 * empty). A buffer is allocated only when bytes for it arrive and is handed off when full.
 */
export async function* chunksOf(
  source: AsyncIterable<Uint8Array | string>,
  size: number,
): AsyncGenerator<Buffer> {
  let buffer: Buffer | undefined;
  let filled = 0;
  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    let offset = 0;
    while (offset < chunk.length) {
      buffer ??= Buffer.allocUnsafe(size);
      const n = Math.min(size - filled, chunk.length - offset);
      buffer.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === size) {
        yield buffer;
        buffer = undefined;
        filled = 0;
      }
    }
  }
  if (buffer && filled > 0) yield buffer.subarray(0, filled);
}

/**
 * Passes a stream through, failing with ValidationError when it carries more or fewer bytes than
 * `expected` (a declared Content-Length the body does not match). `onMismatch` sees the error
 * first, because HTTP clients downstream rewrap stream errors.
 */
export async function* exactly(
  source: AsyncIterable<Uint8Array | string>,
  expected: number,
  onMismatch: (error: ValidationError) => void = () => {},
): AsyncGenerator<Buffer> {
  let seen = 0;
  const fail = () => {
    const error = new ValidationError(`body length does not match contentLength ${expected}`);
    onMismatch(error);
    return error;
  };
  for await (const raw of source) {
    const chunk =
      typeof raw === 'string'
        ? Buffer.from(raw)
        : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    seen += chunk.length;
    if (seen > expected) throw fail();
    yield chunk;
  }
  if (seen !== expected) throw fail();
}
