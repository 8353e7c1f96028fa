import { createHash } from 'node:crypto';
import type OSS from 'ali-oss';
import { type BufferPool, uploadPartsConcurrently } from './part-pump.ts';

export interface PartUploadOptions {
  readonly partSize: number;
  /** Parts in flight at once. */
  readonly parallel: number;
  /** The pool the parts' buffers come from; each is released once its part is up. */
  readonly pool: BufferPool;
  readonly timeout: number;
  /** Object headers and user metadata, given at initiation. */
  readonly init: OSS.InitMultipartUploadOptions;
  readonly signal?: AbortSignal;
}

/**
 * Uploads `parts` (each but the last exactly partSize bytes) as one multipart upload and returns
 * the object's ETag. Each part goes up with its Content-MD5. Any failure aborts the upload on the
 * server and is rethrown.
 */
export async function uploadInParts(
  client: OSS,
  key: string,
  parts: AsyncIterable<Buffer>,
  options: PartUploadOptions,
): Promise<string> {
  const { timeout, signal } = options;
  const { uploadId } = await client.initMultipartUpload(key, { ...options.init, timeout });
  try {
    const done = await uploadPartsConcurrently(parts, {
      parallel: options.parallel,
      pool: options.pool,
      signal,
      uploadPart: async (partNumber, part) => {
        const headers = { 'Content-MD5': createHash('md5').update(part).digest('base64') };
        const { etag } = await client.uploadPart(key, uploadId, partNumber, part, 0, part.length, {
          timeout,
          headers,
        } as OSS.RequestOptions);
        return etag;
      },
    });
    const list = done.map(({ partNumber, etag }) => ({ number: partNumber, etag }));
    const result = await client.completeMultipartUpload(key, uploadId, list, { timeout });
    return result.etag;
  } catch (error) {
    await client.abortMultipartUpload(key, uploadId, { timeout }).catch(() => {});
    throw error;
  }
}
