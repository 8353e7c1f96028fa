import { Readable } from 'node:stream';
import { RangeNotSatisfiableError } from '../core/errors.ts';
import type { PieceStore } from '../storage/piece-store.ts';

/** What a range stream needs to know about a task that may still be downloading. */
export interface LandingPieces {
  readonly taskId: string;
  readonly contentLength: number;
  readonly pieceSize: number;
  /** Whether piece `index` is in the store. */
  has(index: number): boolean;
  /**
   * Resolves at the next change (a piece landed, the download ended); rejects when waiting
   * is pointless (the download failed, or ended without the piece).
   */
  changed(): Promise<void>;
}

/**
 * Bytes `start..end` (inclusive; default the whole task) in order, as their pieces land. Runs of
 * present pieces are read from the store with one stream each. Reads are pulled by the
 * consumer, so a slow consumer holds back only its own stream, never the download.
 */
export function streamLandingPieces(
  store: Pick<PieceStore, 'createReadStream'>,
  task: LandingPieces,
  range?: { start: number; end: number },
): Readable {
  const start = range?.start ?? 0;
  const end = range?.end ?? task.contentLength - 1;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0) {
    throw new RangeNotSatisfiableError(`invalid range ${start}-${end}`, task.contentLength);
  }
  if (end >= task.contentLength || end < start - 1) {
    throw new RangeNotSatisfiableError(
      `range ${start}-${end} is not satisfiable`,
      task.contentLength,
    );
  }
  return Readable.from(bytesOf(store, task, start, end), { objectMode: false });
}

async function* bytesOf(
  store: Pick<PieceStore, 'createReadStream'>,
  task: LandingPieces,
  start: number,
  end: number,
): AsyncGenerator<Buffer> {
  const { pieceSize } = task;
  const lastPiece = Math.floor(end / pieceSize);
  let position = start;
  while (position <= end) {
    const first = Math.floor(position / pieceSize);
    // changed() is taken right after the check, so no landing falls in between.
    while (!task.has(first)) await task.changed();
    let last = first;
    while (last < lastPiece && task.has(last + 1)) last++;
    const runEnd = Math.min(end, (last + 1) * pieceSize - 1);
    const body = await store.createReadStream(task.taskId, { start: position, end: runEnd });
    try {
      for await (const chunk of body) yield chunk as Buffer;
    } finally {
      body.destroy();
    }
    position = runEnd + 1;
  }
}
