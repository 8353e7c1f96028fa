import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DfstoreClient } from '../client/dfstore-client.ts';
import { ValidationError } from '../core/errors.ts';
import type { WriteMode } from '../core/write-mode.ts';
import { baseName, describeObjectError } from './locations.ts';
import type { Progress } from './progress.ts';

export interface DownloadRequest {
  readonly bucket: string;
  readonly key: string;
  /** Final file path (already resolved; see downloadTarget). */
  readonly path: string;
  readonly filter?: string;
  readonly signal?: AbortSignal;
  readonly progress?: Progress;
}

/**
 * Streams an object into `<dir>/.dfstore-<random>.tmp` beside the target, fsyncs it and
 * renames it over the target. Nothing is created until the server has answered 2xx, and the temp
 * file is removed on any failure (short body, abort, disk full), so a failed or missing download
 * leaves no file behind and never clobbers an existing target with partial data.
 * Resolves with the number of bytes written.
 */
export async function downloadToFile(client: DfstoreClient, request: DownloadRequest) {
  const { bucket, key, path, filter, signal, progress } = request;
  const response = await client
    .getObject(bucket, key, { filter, signal })
    .catch((error: unknown) => {
      throw describeObjectError(error, bucket, key);
    });
  const expected = response.metadata.contentLength;
  progress?.setTotal(expected);
  // Not named after the target: a long name plus a suffix could exceed NAME_MAX.
  const temp = join(dirname(path), `.dfstore-${randomBytes(8).toString('hex')}.tmp`);
  let written = 0;
  try {
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        written += chunk.length;
        progress?.add(chunk.length);
        callback(null, chunk);
      },
    });
    const file = createWriteStream(temp, { flags: 'wx', highWaterMark: 1024 * 1024 });
    await pipeline(response.body, counter, file, { signal });
    if (written !== expected) {
      throw new Error(`download of ${key} ended after ${written} of ${expected} bytes`);
    }
    await fsync(temp);
    await rename(temp, path);
    return written;
  } catch (error) {
    response.body.destroy();
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * The local path a download of `key` goes to: an existing directory (or a target written with a
 * trailing separator) receives the key's basename, anything else is the file path itself.
 */
export async function downloadTarget(target: string, key: string): Promise<string> {
  const isDir =
    /[/\\]$/.test(target) || (await stat(target).catch(() => undefined))?.isDirectory() === true;
  if (!isDir) return target;
  const name = baseName(key);
  if (name === '' || name === '.' || name === '..') {
    throw new ValidationError(`cannot name a local file after object key ${JSON.stringify(key)}`);
  }
  await mkdir(target, { recursive: true });
  return join(target, name);
}

export interface UploadRequest {
  readonly bucket: string;
  readonly key: string;
  readonly path: string;
  readonly mode: WriteMode;
  readonly maxReplicas: number;
  readonly filter?: string;
  readonly signal?: AbortSignal;
  readonly progress?: Progress;
}

/** Streams a local file to the object; resolves with its size. */
export async function uploadFromFile(client: DfstoreClient, request: UploadRequest) {
  const { bucket, key, path, mode, maxReplicas, filter, signal, progress } = request;
  const info = await stat(path);
  if (info.isDirectory()) throw new ValidationError(`${path} is a directory (use cp -r)`);
  progress?.setTotal(info.size);
  let reported = 0;
  await client
    .putObject(bucket, key, path, {
      mode,
      maxReplicas,
      filter,
      signal,
      onProgress: (sent) => {
        progress?.add(sent - reported);
        reported = sent;
      },
    })
    .catch((error: unknown) => {
      throw describeObjectError(error, bucket, key);
    });
  return info.size;
}

/** fsync is per file, not per descriptor: a fresh descriptor flushes what the stream wrote. */
async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
