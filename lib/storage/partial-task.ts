import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { ConflictError, IntegrityError, ValidationError } from '../core/errors.ts';
import { pieceRange } from '../core/piece-size.ts';
import type { Logger, Timers } from './deps.ts';
import { hashFile } from './piece-hasher.ts';
import { isPieceDigest, type TaskObjectMetadata } from './task-meta.ts';
import type { TaskRecord } from './task-table.ts';

/** The piece layout of a task being downloaded, as the tracker or source announced it. */
export interface PartialTaskOptions extends TaskObjectMetadata {
  readonly contentLength: number;
  readonly pieceSize: number;
  /**
   * sha256 hex of each piece; every written piece is checked against it. '' = not known yet:
   * the writer of that piece supplies it (see PartialTask.writePiece).
   */
  readonly pieceDigests: readonly string[];
  /** `md5:<hex>` of the whole object, checked on completion when the store verifies digests. */
  readonly digest?: string;
}

/** What a partial task needs from its store. Meta writes are refused for a replaced record. */
export interface PartialTaskHost {
  readonly logger: Logger;
  readonly timers: Timers;
  /** Delay before persisting the bitmap after a piece lands (batches pieces); 0 = next tick. */
  readonly persistDelayMs: number;
  /** Whether completion re-reads the data to check the whole-object md5 (when known). */
  readonly verifyDigest: boolean;
  /** Atomically writes `meta` for `record`; false when the record is no longer current. */
  persistMeta(record: TaskRecord, meta: TaskRecord['meta']): Promise<boolean>;
  pieceWritten(record: TaskRecord, index: number, bytes: number): void;
  completed(record: TaskRecord): Promise<void>;
  failed(record: TaskRecord, error: unknown): void;
  /** The writer closed for good: release its pin. */
  closed(): void;
}

type State = 'downloading' | 'complete' | 'failed' | 'closed';
type Listener<T> = (value: T) => void;

/**
 * Writes verified pieces of one task as they arrive from peers or the source, in any order.
 *
 * Crash safety: a piece's bytes are written at its offset, then (batched) the data file is
 * fdatasync'ed and only then meta.json is replaced with a bitmap that includes it. So meta on
 * disk never claims a piece whose bytes were not synced. In memory (`hasPiece`, the `piece`
 * event) a piece counts as soon as its bytes are written, so it can be served at once.
 * The last piece completes the task: data synced, optional md5 check, meta `complete: true`.
 */
export class PartialTask {
  readonly taskId: string;
  readonly contentLength: number;
  readonly pieceSize: number;
  readonly pieceCount: number;
  readonly #host: PartialTaskHost;
  readonly #handle: FileHandle | undefined;
  readonly #pieceListeners = new Set<Listener<number>>();
  readonly #completeListeners = new Set<Listener<void>>();
  #record: TaskRecord;
  #state: State;
  #failure?: unknown;
  #opens = 1;
  #serial: Promise<unknown> = Promise.resolve();
  #queuedFlush?: Promise<void>;
  #flushTimer?: unknown;
  #completion?: Promise<void>;
  #durableCount: number;

  /** `handle` is the data file opened read-write; absent for a task that is already complete. */
  constructor(record: TaskRecord, handle: FileHandle | undefined, host: PartialTaskHost) {
    const { meta } = record;
    this.taskId = meta.taskId;
    this.contentLength = meta.contentLength;
    this.pieceSize = meta.pieceSize;
    this.pieceCount = meta.pieceCount;
    this.#record = record;
    this.#handle = handle;
    this.#host = host;
    this.#state = meta.complete ? 'complete' : 'downloading';
    this.#durableCount = record.present.count;
  }

  get isComplete(): boolean {
    return this.#state === 'complete' || this.#record.meta.complete;
  }

  hasPiece(index: number): boolean {
    return this.#record.present.has(index);
  }

  presentPieces(): number[] {
    return this.#record.present.indexes();
  }

  /** Calls `listener(index)` whenever a new piece is written. Returns the unsubscribe function. */
  onPiece(listener: Listener<number>): () => void {
    this.#pieceListeners.add(listener);
    return () => this.#pieceListeners.delete(listener);
  }

  /** Calls `listener()` once the task is complete and durable. Returns the unsubscribe function. */
  onComplete(listener: Listener<void>): () => void {
    this.#completeListeners.add(listener);
    return () => this.#completeListeners.delete(listener);
  }

  /**
   * Verifies `data` against the piece's sha256 (IntegrityError, nothing recorded, on mismatch
   * or wrong length) and writes it at the piece's offset. Resolves true when the piece is new,
   * false when it was already present; when it was the last piece, resolves after completion.
   *
   * The expected sha256 is the layout's; where the layout does not know it yet (''), the
   * caller's `expectedDigest` (none: ValidationError). Both known and different: IntegrityError.
   * A digest learnt this way joins the layout at once (stat, the piece server) and reaches
   * meta.json with the next bitmap persist, so meta never holds a piece without its digest.
   */
  async writePiece(index: number, data: Uint8Array, expectedDigest?: string): Promise<boolean> {
    this.#assertOpen();
    this.#assertIndex(index);
    if (expectedDigest !== undefined && !isPieceDigest(expectedDigest)) {
      throw new ValidationError('a piece digest must be sha256 lower-case hex');
    }
    const known = this.#record.meta.pieceDigests[index] ?? '';
    if (known !== '' && expectedDigest !== undefined && expectedDigest !== known) {
      throw new IntegrityError(`piece ${index} of task ${this.taskId} has another digest`);
    }
    if (this.isComplete || this.hasPiece(index)) return false;
    const expected = known || expectedDigest;
    if (expected === undefined) {
      throw new ValidationError(`the digest of piece ${index} of task ${this.taskId} is unknown`);
    }
    return this.#write(index, data, expected);
  }

  /**
   * Writes a piece read from the object's source (the backend): there is nothing to check it
   * against, so its sha256 (computed once, here) becomes the piece's digest. A digest the layout
   * already knows must match (IntegrityError otherwise).
   */
  async writeSourcePiece(index: number, data: Uint8Array): Promise<boolean> {
    this.#assertOpen();
    this.#assertIndex(index);
    if (this.isComplete || this.hasPiece(index)) return false;
    return this.#write(index, data, this.#record.meta.pieceDigests[index] || undefined);
  }

  /** Checks `data` against `expected` (when given; else it defines the digest), then writes it. */
  async #write(index: number, data: Uint8Array, expected: string | undefined): Promise<boolean> {
    const { start, length } = pieceRange(index, this.pieceSize, this.contentLength);
    if (data.length !== length) {
      throw new IntegrityError(`piece ${index} has ${data.length} bytes, expected ${length}`);
    }
    const digest = createHash('sha256').update(data).digest('hex');
    if (expected !== undefined && digest !== expected) {
      throw new IntegrityError(`piece ${index} of task ${this.taskId} failed its sha256 check`);
    }
    // Claimed before the bytes land: a concurrent write of other bytes now fails its check.
    if ((this.#record.meta.pieceDigests[index] ?? '') === '') this.#learnDigest(index, digest);
    await writeAt(this.#handle as FileHandle, data, start);
    if (this.#state !== 'downloading' || !this.#record.present.add(index)) return false;
    this.#host.pieceWritten(this.#record, index, length);
    this.#emit(this.#pieceListeners, index);
    if (this.#record.present.full) await this.#complete();
    else this.#schedulePersist();
    return true;
  }

  #assertIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) {
      throw new ValidationError(`piece index ${index} out of range 0..${this.pieceCount - 1}`);
    }
  }

  /** Persists the bitmap of every piece written so far (data synced first). */
  flush(): Promise<void> {
    if (this.#state !== 'downloading') return this.#completion ?? Promise.resolve();
    if (this.#queuedFlush) return this.#queuedFlush;
    const flush = this.#enqueue(async () => {
      this.#queuedFlush = undefined;
      await this.#persistBitmap();
    });
    this.#queuedFlush = flush;
    return flush;
  }

  /**
   * Flushes and closes the writer (for every holder: the store hands one instance to each
   * concurrent openPartial of a task; it closes when each has called close). Pieces written
   * but not complete stay on disk; openPartial resumes them.
   */
  async close(): Promise<void> {
    if (this.#opens === 0) return;
    this.#opens--;
    if (this.#opens > 0) return;
    if (this.#flushTimer !== undefined) this.#host.timers.clearTimeout(this.#flushTimer);
    await this.flush().catch((error) => this.#host.logger.warn({ err: error }, 'flush failed'));
    await this.#serial;
    await this.#handle?.close().catch(() => {});
    if (this.#state === 'downloading') this.#state = 'closed';
    this.#host.closed();
  }

  /** @internal Store shutdown: closes the writer for every holder at once. */
  async closeAll(): Promise<void> {
    this.#opens = Math.min(this.#opens, 1);
    await this.close();
  }

  /** @internal Another holder opened the same task: share this writer. */
  retain(): this {
    this.#opens++;
    return this;
  }

  /** @internal An import committed the same task complete: writes become no-ops. */
  supersede(record: TaskRecord): void {
    this.#record = record;
    if (this.#state !== 'downloading') return;
    this.#state = 'complete';
    this.#emit(this.#completeListeners, undefined);
  }

  #learnDigest(index: number, digest: string): void {
    const { meta } = this.#record;
    if (meta.pieceDigests[index] !== '') return;
    const pieceDigests = [...meta.pieceDigests];
    pieceDigests[index] = digest;
    this.#record.meta = { ...meta, pieceDigests };
  }

  async #complete(): Promise<void> {
    this.#completion ??= this.#enqueue(async () => {
      if (this.#state !== 'downloading') return;
      const handle = this.#handle as FileHandle;
      await handle.datasync();
      const { digest } = this.#record.meta;
      if (this.#host.verifyDigest && digest !== undefined) {
        const { md5Hex } = await hashFile(handle, this.contentLength, { md5: true });
        if (`md5:${md5Hex}` !== digest) {
          throw new IntegrityError(`task ${this.taskId} does not match its digest ${digest}`);
        }
      }
      const { presentPieces: _, ...rest } = this.#record.meta;
      if (await this.#host.persistMeta(this.#record, { ...rest, complete: true })) {
        this.#state = 'complete';
        await this.#host.completed(this.#record);
        this.#emit(this.#completeListeners, undefined);
      }
    }).catch((error: unknown) => {
      this.#state = 'failed';
      this.#failure = error;
      this.#host.failed(this.#record, error);
      throw error;
    });
    return this.#completion;
  }

  async #persistBitmap(): Promise<void> {
    if (this.#state !== 'downloading') return;
    const snapshot = this.#record.present.clone();
    if (snapshot.count === this.#durableCount) return;
    await (this.#handle as FileHandle).datasync();
    const meta = { ...this.#record.meta, presentPieces: snapshot.toBase64() };
    if (await this.#host.persistMeta(this.#record, meta)) this.#durableCount = snapshot.count;
  }

  #schedulePersist(): void {
    if (this.#flushTimer !== undefined) return;
    const run = () => {
      this.#flushTimer = undefined;
      this.flush().catch((error) => this.#host.logger.warn({ err: error }, 'flush failed'));
    };
    if (this.#host.persistDelayMs > 0) {
      this.#flushTimer = this.#host.timers.setTimeout(run, this.#host.persistDelayMs);
    } else {
      run();
    }
  }

  #enqueue<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#serial.then(op);
    this.#serial = result.catch(() => {});
    return result;
  }

  #assertOpen(): void {
    if (this.#state === 'failed') {
      throw new IntegrityError(`task ${this.taskId} failed`, { cause: this.#failure });
    }
    if (this.#state === 'closed' || this.#opens === 0) {
      throw new ConflictError(`partial task ${this.taskId} is closed`);
    }
  }

  #emit<T>(listeners: Set<Listener<T>>, value: T): void {
    for (const listener of listeners) {
      try {
        listener(value);
      } catch (error) {
        this.#host.logger.warn({ err: error, taskId: this.taskId }, 'partial task listener threw');
      }
    }
  }
}

async function writeAt(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(
      data,
      offset,
      data.length - offset,
      position + offset,
    );
    offset += bytesWritten;
  }
}
