import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { ValidationError } from '../core/errors.ts';
import { DEFAULT_WRITE_MODE, WriteMode } from '../core/write-mode.ts';
import { encodeMultipart } from './multipart-encoder.ts';

export interface PutObjectOptions {
  /** 0 AsyncWriteBack (default), 1 WriteBack, 2 Ephemeral (peer-to-peer replication only). */
  readonly mode?: WriteMode;
  /** Task-ID filter, sent only when set. */
  readonly filter?: string;
  /** Seed-peer replicas, 0..100; 0 or absent = the daemon's default (the field is then omitted). */
  readonly maxReplicas?: number;
  /** Exact size of a stream body; enables Content-Length (a path's size is found by stat). */
  readonly contentLength?: number;
  /** Called with the file bytes handed to the connection so far. */
  readonly onProgress?: (sentBytes: number) => void;
  readonly signal?: AbortSignal;
}

export interface PreparedPut {
  readonly headers: Record<string, string>;
  readonly stream: Readable;
  /** Releases the file handle if the request never read the body to its end. */
  close(): void;
}

/** Read size for files: large reads keep syscalls and chunk overhead low on big objects. */
const FILE_CHUNK = 1024 * 1024;

/**
 * The PUT form in upstream's field order: `mode`, `filter` (only when set), `maxReplicas` (only
 * when > 0, as the Go client does), then `file` named after the key's basename. A path is opened
 * here and its size taken from the open handle, so the Content-Length matches what is read.
 */
export async function preparePutBody(
  key: string,
  body: Readable | string,
  options: PutObjectOptions,
): Promise<PreparedPut> {
  const mode = options.mode ?? DEFAULT_WRITE_MODE;
  if (!Object.values(WriteMode).includes(mode)) throw new ValidationError('invalid Mode');
  const maxReplicas = options.maxReplicas ?? 0;
  if (!Number.isInteger(maxReplicas) || maxReplicas < 0 || maxReplicas > 100) {
    throw new ValidationError('invalid MaxReplicas');
  }
  const fields: [string, string][] = [['mode', String(mode)]];
  if (options.filter) fields.push(['filter', options.filter]);
  if (maxReplicas > 0) fields.push(['maxReplicas', String(maxReplicas)]);

  let source: Readable;
  let size = options.contentLength;
  if (typeof body === 'string') {
    const handle = await open(body, 'r');
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new ValidationError(`${body} is not a regular file`);
      size = stat.size;
    } catch (error) {
      await handle.close();
      throw error;
    }
    source = handle.createReadStream({ highWaterMark: FILE_CHUNK, autoClose: true });
  } else {
    source = body;
  }
  const counted = options.onProgress ? source.pipe(progress(options.onProgress)) : source;
  if (counted !== source) source.on('error', (error) => counted.destroy(error));
  const form = encodeMultipart(fields, {
    field: 'file',
    filename: posix.basename(key) || key,
    contentType: 'application/octet-stream',
    body: counted,
    size,
  });
  const headers: Record<string, string> = { 'content-type': form.contentType };
  if (form.contentLength !== undefined) headers['content-length'] = String(form.contentLength);
  return {
    headers,
    stream: form.stream,
    close: () => {
      form.stream.destroy();
      if (typeof body === 'string') source.destroy();
    },
  };
}

function progress(onProgress: (sentBytes: number) => void): Transform {
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sent += chunk.length;
      onProgress(sent);
      callback(null, chunk);
    },
  });
}
