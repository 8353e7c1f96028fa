import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import * as z from 'zod';
import { ValidationError } from '../core/errors.ts';
import { DEFAULT_WRITE_MODE } from '../core/write-mode.ts';
import { bucketPath, withQuery } from './object-path.ts';
import type { PutObjectOptions } from './put-body.ts';
import { header, type Transport } from './transport.ts';

/**
 * Upload sessions (DESIGN.md §5): how the CLI puts an object larger than the object API
 * function's inline limit. The function creates a multipart upload on the backend and answers
 * presigned part URLs; the parts go straight to the backend (never through the function, whose
 * payloads are capped at 6 MB); then the function completes the upload and has the object's owner
 * seed peers import it. The whole-object md5 is computed first (a second read of the file): it
 * is the object's digest, stored as metadata when the upload is created.
 */

const sessionSchema = z.object({
  uploadId: z.string().min(1),
  partSize: z.number().int().positive(),
  parts: z.array(z.object({ partNumber: z.number().int().positive(), url: z.url() })),
});

export interface SessionUploadDeps {
  readonly send: Transport;
  readonly dispatcher: Dispatcher;
}

export interface SessionUploadOptions extends PutObjectOptions {
  /** Parts in flight (default 4). */
  readonly concurrency?: number;
}

const PART_ATTEMPTS = 3;

/** Uploads the file at `path` through an upload session; rejects after aborting it on failure. */
export async function uploadFileInSession(
  deps: SessionUploadDeps,
  bucket: string,
  key: string,
  path: string,
  options: SessionUploadOptions = {},
): Promise<void> {
  const info = await stat(path);
  if (!info.isFile()) throw new ValidationError(`${path} is not a regular file`);
  const digest = `md5:${await md5OfFile(path, options.signal)}`;
  const sessions = `${bucketPath(bucket)}/uploads`;
  const created = await deps.send({
    method: 'POST',
    path: sessions,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      key,
      contentLength: info.size,
      digest,
      mode: options.mode ?? DEFAULT_WRITE_MODE,
      maxReplicas: options.maxReplicas || undefined,
    }),
    signal: options.signal,
  });
  const session = sessionSchema.parse(await created.body.json());
  const abort = () =>
    deps
      .send({
        method: 'DELETE',
        path: withQuery(`${sessions}/${encodeURIComponent(session.uploadId)}`, { key }),
      })
      .then((res) => res.body.dump())
      .catch(() => {});
  try {
    const etags = await putParts(deps.dispatcher, path, info.size, session, options);
    const completed = await deps.send({
      method: 'POST',
      path: `${sessions}/${encodeURIComponent(session.uploadId)}/complete`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key, parts: etags }),
      signal: options.signal,
    });
    await completed.body.dump();
  } catch (error) {
    await abort();
    throw error;
  }
}

async function putParts(
  dispatcher: Dispatcher,
  path: string,
  size: number,
  session: z.infer<typeof sessionSchema>,
  options: SessionUploadOptions,
): Promise<{ partNumber: number; etag: string }[]> {
  const etags: { partNumber: number; etag: string }[] = [];
  const queue = [...session.parts].sort((a, b) => a.partNumber - b.partNumber);
  let sent = 0;
  async function worker(): Promise<void> {
    for (let part = queue.shift(); part; part = queue.shift()) {
      const start = (part.partNumber - 1) * session.partSize;
      const end = Math.min(start + session.partSize, size) - 1;
      if (end < start) throw new Error(`part ${part.partNumber} lies past the end of the file`);
      const etag = await putPart(dispatcher, part.url, path, start, end, options.signal);
      etags.push({ partNumber: part.partNumber, etag });
      sent += end - start + 1;
      options.onProgress?.(sent);
    }
  }
  const workers = Math.max(1, Math.min(options.concurrency ?? 4, session.parts.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return etags.sort((a, b) => a.partNumber - b.partNumber);
}

/** PUTs one part from the file (streamed), retrying transient failures; resolves its ETag. */
async function putPart(
  dispatcher: Dispatcher,
  url: string,
  path: string,
  start: number,
  end: number,
  signal: AbortSignal | undefined,
): Promise<string> {
  const target = new URL(url);
  for (let attempt = 1; ; attempt++) {
    try {
      // The presigned URL carries its own authorization: none of ours goes to the backend.
      const res = await dispatcher.request({
        origin: target.origin,
        path: `${target.pathname}${target.search}`,
        method: 'PUT',
        headers: { 'content-length': String(end - start + 1) },
        body: createReadStream(path, { start, end, highWaterMark: 1024 * 1024 }),
        signal,
      });
      const text = res.statusCode === 200 ? '' : await res.body.text().catch(() => '');
      if (res.statusCode === 200) await res.body.dump();
      const etag = header(res.headers, 'etag');
      if (res.statusCode === 200 && etag) return etag;
      const error = new Error(
        `part upload to ${target.host} answered ${res.statusCode}${text ? `: ${text.slice(0, 200)}` : ''}`,
      );
      if (res.statusCode < 500 || attempt >= PART_ATTEMPTS) throw error;
    } catch (error) {
      if (signal?.aborted || attempt >= PART_ATTEMPTS) throw error;
      if (error instanceof Error && / answered 4\d\d/.test(error.message)) throw error;
    }
  }
}

async function md5OfFile(path: string, signal: AbortSignal | undefined): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024, signal })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
