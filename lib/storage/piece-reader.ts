import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { IntegrityError, NotFoundError, RangeNotSatisfiableError } from '../core/errors.ts';
import { pieceRange } from '../core/piece-size.ts';
import { BufferedBody } from './buffered-body.ts';
import type { StoreLayout } from './layout.ts';
import { preadFile } from './pread.ts';
import { SmallObjectCache } from './small-object-cache.ts';
import type { TaskRecord } from './task-table.ts';

/**
 * Read chunk of task streams. Node's default (64 KiB) costs a syscall, a Buffer and a trip
 * through every consumer per 64 KiB; 1 MiB chunks cut that 16-fold for at most 1 MiB per stream
 * in memory (a smaller range gets a buffer of its own size).
 */
export const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * Ranges up to this size are read with one pread into a BufferedBody instead of streamed: a
 * small GET then costs an open, a read and a close, and goes out with its headers in one write.
 */
export const SMALL_READ_BYTES = 64 * 1024;

/** Bytes `start..end` of a task, `end` inclusive; defaults: the whole object. */
export interface ReadRange {
  readonly start?: number;
  readonly end?: number;
  /**
   * A range of at most SMALL_READ_BYTES comes back as a BufferedBody: read at once, so the task
   * is unpinned before the stream is returned (for HTTP GETs: lib/api/stream-response).
   */
  readonly bufferSmall?: boolean;
}

/**
 * Opens one file descriptor on the task's data and streams the range from it, so a read never
 * mixes bytes of two files even if the task directory is replaced meanwhile. `release` (the
 * pin) runs when the stream closes, or at once when opening fails.
 */
export async function openTaskReadStream(
  layout: StoreLayout,
  record: TaskRecord | undefined,
  range: ReadRange,
  release: (() => void) | undefined,
  touch: () => void,
): Promise<Readable> {
  try {
    if (!record) throw new NotFoundError('task not found');
    const { taskId, contentLength, pieceSize } = record.meta;
    const start = range.start ?? 0;
    const end = range.end ?? contentLength - 1;
    if (contentLength === 0 && start === 0 && end === -1) {
      release?.();
      return Readable.from([]);
    }
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
      throw new RangeNotSatisfiableError(`invalid range ${start}-${end}`, contentLength);
    }
    if (end >= contentLength) {
      throw new RangeNotSatisfiableError(`range ${start}-${end} is past the end`, contentLength);
    }
    if (!record.meta.complete) {
      for (let i = Math.floor(start / pieceSize); i <= Math.floor(end / pieceSize); i++) {
        if (!record.present.has(i))
          throw new NotFoundError(`piece ${i} of task ${taskId} is not cached`);
      }
    }
    if (range.bufferSmall && end - start + 1 <= SMALL_READ_BYTES) {
      const bytes = await readSmall(layout, record, start, end);
      touch();
      release?.();
      return new BufferedBody(bytes);
    }
    const handle = await open(layout.dataFile(taskId), 'r');
    touch();
    const stream = handle.createReadStream({ start, end, highWaterMark: READ_CHUNK_BYTES });
    stream.once('close', () => release?.());
    return stream;
  } catch (error) {
    release?.();
    throw error;
  }
}

/** Small complete objects' bytes, per process (the stores' task records are the keys). */
const smallObjects = new SmallObjectCache<TaskRecord>(16 * 1024 * 1024);

/** Bytes `start..end` of a task, from memory when it is a small complete object. */
async function readSmall(
  layout: StoreLayout,
  record: TaskRecord,
  start: number,
  end: number,
): Promise<Buffer> {
  const { taskId, contentLength, complete } = record.meta;
  if (!complete || contentLength > SMALL_READ_BYTES) {
    return preadFile(layout.dataFile(taskId), start, end - start + 1);
  }
  let whole = smallObjects.get(record);
  if (!whole) {
    whole = await preadFile(layout.dataFile(taskId), 0, contentLength);
    smallObjects.set(record, whole);
  }
  return whole.subarray(start, end + 1);
}

/** Reads piece `index` of a task into a Buffer, optionally re-checking its sha256. */
export async function readTaskPiece(
  layout: StoreLayout,
  record: TaskRecord | undefined,
  index: number,
  verify: boolean,
): Promise<Buffer> {
  if (!record) throw new NotFoundError('task not found');
  const { taskId, pieceSize, contentLength, pieceDigests } = record.meta;
  if (!record.present.has(index)) {
    throw new NotFoundError(`piece ${index} of task ${taskId} is not cached`);
  }
  const { start, length } = pieceRange(index, pieceSize, contentLength);
  const buffer = Buffer.allocUnsafe(length);
  const handle = await open(layout.dataFile(taskId), 'r');
  try {
    let offset = 0;
    while (offset < length) {
      const { bytesRead } = await handle.read(buffer, offset, length - offset, start + offset);
      if (bytesRead === 0) throw new IntegrityError(`data of task ${taskId} is truncated`);
      offset += bytesRead;
    }
  } finally {
    await handle.close();
  }
  if (verify && createHash('sha256').update(buffer).digest('hex') !== pieceDigests[index]) {
    throw new IntegrityError(`piece ${index} of task ${taskId} is corrupt on disk`);
  }
  return buffer;
}
