import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { IntegrityError, NotFoundError, RangeNotSatisfiableError } from '../core/errors.ts';
import { pieceRange } from '../core/piece-size.ts';
import type { StoreLayout } from './layout.ts';
import type { TaskRecord } from './task-table.ts';

/** Bytes `start..end` of a task, `end` inclusive; defaults: the whole object. */
export interface ReadRange {
  readonly start?: number;
  readonly end?: number;
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
    const handle = await open(layout.dataFile(taskId), 'r');
    touch();
    const stream = handle.createReadStream({ start, end });
    stream.once('close', () => release?.());
    return stream;
  } catch (error) {
    release?.();
    throw error;
  }
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
