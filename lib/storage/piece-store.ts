import { mkdir, statfs } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { ConflictError } from '../core/errors.ts';
import { type Clock, type Logger, noopLogger, systemClock, type Timers } from './deps.ts';
import { type EvictionReport, Evictor } from './eviction.ts';
import {
  type CommitOptions,
  type CommitResult,
  type ImportOptions,
  ImportWriter,
} from './import-writer.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import { assertTaskId, storeLayout } from './layout.ts';
import { asNoSpaceError, isNoSpace } from './no-space.ts';
import type { PartialTask, PartialTaskOptions } from './partial-task.ts';
import { PartialTasks } from './partial-tasks.ts';
import { openTaskReadStream, type ReadRange, readTaskPiece } from './piece-reader.ts';
import { recoverTasks } from './recovery.ts';
import { TaskDirs } from './task-dirs.ts';
import {
  presentBitmap,
  presentBytes,
  type TaskMeta,
  validateObjectDigest,
  validatePieceLayout,
} from './task-meta.ts';
import { type TaskRecord, TaskTable } from './task-table.ts';

export interface PieceStoreOptions {
  readonly dataDir: string;
  /** Bytes of task data to keep (config `storage.capacity`); unbounded when absent. */
  readonly capacity?: number;
  /** Delay before a partial task persists its bitmap after a piece (batching); default 0. */
  readonly persistDelayMs?: number;
  /** Check the whole-object md5 when a partial task completes (when known); default true. */
  readonly verifyDigestOnComplete?: boolean;
  /** A piece of `taskId` was written (the downloader announces it to trackers). */
  readonly onPiece?: (taskId: string, index: number) => void;
  /** A task left the store: evicted for capacity or removed on request. */
  readonly onRemoved?: (taskId: string, reason: 'evicted' | 'removed') => void;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly logger?: Logger;
}

export interface StoreUsage {
  readonly usedBytes: number;
  readonly capacity: number;
  readonly taskCount: number;
  /** Bytes eviction cannot reclaim right now. */
  readonly pinnedBytes: number;
  /** How far usage is over capacity because everything left is pinned (0 normally). */
  readonly overCapacityBytes: number;
}

/** Room kept free beyond an import's size: metadata, the journal and the index need some. */
const ROOM_MARGIN_BYTES = 1024 * 1024;

/** Opens (creating if needed) the piece store under `dataDir` and runs startup recovery. */
export async function openPieceStore(options: PieceStoreOptions): Promise<PieceStore> {
  const layout = storeLayout(options.dataDir);
  for (const dir of [layout.tasksDir, layout.stagingDir, layout.trashDir]) {
    await mkdir(dir, { recursive: true });
  }
  const store = new PieceStore(options);
  for (const task of await recoverTasks(layout, options.logger ?? noopLogger)) {
    store.adopt(task.meta, task.present, task.lastAccess);
  }
  return store;
}

/**
 * The peer's on-disk cache of tasks (object versions), addressed by task ID only.
 *
 * Contracts:
 * - A task is visible (stat, reads) only once its directory is in `tasks/`; imports become
 *   visible complete and atomically (commit), partial tasks piece by piece.
 * - The bytes of a task ID never change: the ID derives from the content digest, so replacing
 *   a partial task by a complete import of the same ID yields the same bytes.
 * - Capacity: after a commit or piece write pushes usage over `capacity`, unpinned tasks are
 *   evicted least recently used first (a partial task nobody is writing counts as unpinned).
 *   Pinned tasks are never evicted; if only pinned tasks remain, usage stays over capacity,
 *   the write still succeeds and `usage().overCapacityBytes` reports the excess.
 * - Pins are reference counts: an open partial writer, a read in flight, or pin().
 */
export class PieceStore {
  readonly #options: PieceStoreOptions;
  readonly #dirs: TaskDirs;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #table = new TaskTable((taskId) => this.#released(taskId));
  readonly #evictor: Evictor;
  readonly #mutex = new KeyedMutex();
  readonly #partials: PartialTasks;
  #closed = false;

  /** Use openPieceStore(); the constructor does no I/O and no recovery. */
  constructor(options: PieceStoreOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? noopLogger;
    this.#dirs = new TaskDirs(storeLayout(options.dataDir), this.#logger);
    this.#evictor = new Evictor(
      this.#table,
      options.capacity ?? Number.POSITIVE_INFINITY,
      (record) => this.#removeNow(record.meta.taskId, { reason: 'evicted', expected: record }),
      this.#logger,
    );
    this.#partials = new PartialTasks({
      ...options,
      table: this.#table,
      mutex: this.#mutex,
      dirs: this.#dirs,
      evictor: this.#evictor,
      clock: this.#clock,
      logger: this.#logger,
    });
  }

  /** @internal Registers a task found on disk by recovery. */
  adopt(meta: TaskMeta, present: TaskRecord['present'], lastAccess: number): void {
    const bytes = presentBytes(meta, present);
    this.#table.set(meta.taskId, { meta, present, bytes, lastAccess, doomed: false });
  }

  /** Starts an import (a PUT body). Nothing is visible until the writer's commit(). */
  async beginImport(options: ImportOptions = {}): Promise<ImportWriter> {
    this.#assertOpen();
    validateObjectDigest(options.expectedDigest);
    if (options.sizeHint) await this.makeRoom(options.sizeHint);
    const { path, handle } = await this.#dirs.createStaging().catch(async (error: unknown) => {
      if (isNoSpace(error)) await this.makeRoom(options.sizeHint ?? 0, { force: true });
      throw asNoSpaceError(error);
    });
    return new ImportWriter({
      stagingPath: path,
      handle,
      options,
      install: (stagingPath, meta, commit) => this.#install(stagingPath, meta, commit),
      clock: this.#clock,
      logger: this.#logger,
      onNoSpace: (bytes) => this.makeRoom(bytes, { force: true }),
    });
  }

  /**
   * Makes room on the disk for `bytes` more (plus a margin) when the file system has less
   * free: evicts unpinned tasks, least recently used first, even below `capacity` (the disk
   * may be smaller than configured, or shared). `force` evicts `bytes` whatever statfs says
   * (the disk just said ENOSPC). Pinned tasks are never evicted: if they fill the disk,
   * imports fail with InsufficientStorageError until their write-backs retire.
   */
  async makeRoom(bytes: number, options: { force?: boolean } = {}): Promise<void> {
    const wanted = bytes + ROOM_MARGIN_BYTES;
    let missing = wanted;
    if (!options.force) {
      const fs = await statfs(this.#dirs.layout.stagingDir).catch(() => undefined);
      if (!fs) return;
      missing = wanted - fs.bavail * fs.bsize;
      if (missing <= 0) return;
    }
    const report = await this.#evictor.free(missing);
    if (report.evicted.length > 0) await this.#dirs.settled();
  }

  /**
   * Creates or reopens the task `taskId` for piece-by-piece writing. Concurrent callers share
   * one writer (each must close it). If the task is already complete the writer is complete
   * and its writes are no-ops. Piece digests may be '' (not known yet: see writePiece); a
   * reopen fills in the ones it brings. A layout that disagrees with the existing task
   * (where both know a digest): ConflictError.
   */
  async openPartial(taskId: string, options: PartialTaskOptions): Promise<PartialTask> {
    this.#assertOpen();
    assertTaskId(taskId);
    validatePieceLayout(options.contentLength, options.pieceSize, options.pieceDigests, {
      allowUnknown: true,
    });
    validateObjectDigest(options.digest);
    return this.#partials.open(taskId, options);
  }

  /** The task's meta (partial or complete), or undefined. Synchronous: served from memory. */
  stat(taskId: string): TaskMeta | undefined {
    return this.#table.get(assertTaskId(taskId))?.meta;
  }

  /** Whether piece `index` of the task is written and readable. */
  hasPiece(taskId: string, index: number): boolean {
    return this.#table.get(assertTaskId(taskId))?.present.has(index) ?? false;
  }

  /**
   * Streams bytes `start..end` (inclusive; default the whole object) of a task from one open
   * file descriptor, pinned until the stream closes: consume or destroy it. For a partial
   * task every piece of the range must be present. NotFoundError / RangeNotSatisfiableError.
   */
  async createReadStream(taskId: string, range: ReadRange = {}): Promise<Readable> {
    const record = this.#table.get(assertTaskId(taskId));
    const release = record ? this.#table.pin(taskId) : undefined;
    return openTaskReadStream(this.#dirs.layout, record, range, release, () => this.#touch(record));
  }

  /** Reads one piece (≤ 15 MiB) into memory; `verify` re-checks its sha256. */
  async readPiece(
    taskId: string,
    index: number,
    options: { verify?: boolean } = {},
  ): Promise<Buffer> {
    const record = this.#table.get(assertTaskId(taskId));
    const release = record ? this.#table.pin(taskId) : undefined;
    try {
      this.#touch(record);
      return await readTaskPiece(this.#dirs.layout, record, index, options.verify ?? false);
    } finally {
      release?.();
    }
  }

  /**
   * Pins a task against eviction and removal; returns the (idempotent) release function.
   * NotFoundError for an unknown task. Pins live in memory: re-pin after a restart.
   */
  pin(taskId: string): () => void {
    return this.#table.pin(assertTaskId(taskId));
  }

  pinCount(taskId: string): number {
    return this.#table.pinCount(assertTaskId(taskId));
  }

  /**
   * Removes a task. A pinned task is removed when its last pin is released (`deferred`); until
   * then it stays readable, and a new commit of the same ID cancels the removal.
   */
  async remove(taskId: string): Promise<'removed' | 'deferred' | 'absent'> {
    if (!this.#table.get(assertTaskId(taskId))) return 'absent';
    if (await this.#removeNow(taskId, { reason: 'removed', doomIfPinned: true })) return 'removed';
    return this.#table.get(taskId) ? 'deferred' : 'absent';
  }

  listTasks(): TaskMeta[] {
    return [...this.#table.values()].map((record) => record.meta);
  }

  usage(): StoreUsage {
    return {
      usedBytes: this.#table.usedBytes,
      capacity: this.#evictor.capacity,
      taskCount: this.#table.size,
      pinnedBytes: this.#table.pinnedBytes(),
      overCapacityBytes: this.#evictor.overCapacityBytes,
    };
  }

  /** Evicts unpinned tasks, LRU first, until usage is within capacity (one run at a time). */
  evict(): Promise<EvictionReport> {
    return this.#evictor.evict();
  }

  /** Closes open partial writers and waits for background work; further writes are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#partials.closeAll();
    await this.#evictor.settled();
    await this.#dirs.settled();
  }

  /**
   * Installs a committed staging directory under the task lock. The task stays pinned through
   * the eviction its commit triggers (a fresh write is never its own victim); the caller gets
   * that pin when it asked for one.
   */
  async #install(
    stagingPath: string,
    meta: TaskMeta,
    options: CommitOptions,
  ): Promise<CommitResult> {
    const { taskId } = meta;
    const installed = await this.#mutex.run(taskId, async () => {
      const existing = this.#table.get(taskId);
      if (existing?.meta.complete) {
        await this.#dirs.discardStaging(stagingPath);
        existing.doomed = false;
        this.#touch(existing);
        return { meta: existing.meta, created: false, unpin: this.#table.pin(taskId) };
      }
      // A partial task of the same ID (same bytes) is replaced; its writer turns complete.
      this.#table.delete(taskId);
      await this.#dirs.installStaged(stagingPath, taskId);
      const now = this.#clock.now();
      const record = {
        meta,
        present: presentBitmap(meta),
        bytes: meta.contentLength,
        lastAccess: now,
        doomed: false,
      };
      this.#table.set(taskId, record);
      this.#partials.supersede(taskId, record);
      return { meta, created: true, unpin: this.#table.pin(taskId) };
    });
    try {
      await this.evict();
    } finally {
      if (!options.pin) installed.unpin();
    }
    return options.pin ? installed : { meta: installed.meta, created: installed.created };
  }

  /** Removes a task now unless pinned (then dooms it when asked). True when removed. */
  #removeNow(
    taskId: string,
    options: { reason: 'evicted' | 'removed'; expected?: TaskRecord; doomIfPinned?: boolean },
  ): Promise<boolean> {
    return this.#mutex.run(taskId, async () => {
      const record = this.#table.get(taskId);
      if (!record || (options.expected && record !== options.expected)) return false;
      if (this.#table.pinCount(taskId) > 0) {
        if (options.doomIfPinned) record.doomed = true;
        return false;
      }
      this.#table.delete(taskId);
      await this.#dirs.trash(taskId);
      this.#options.onRemoved?.(taskId, options.reason);
      return true;
    });
  }

  #released(taskId: string): void {
    const record = this.#table.get(taskId);
    if (!record?.doomed) return;
    this.#removeNow(taskId, { reason: 'removed', expected: record }).catch((error) =>
      this.#logger.error({ taskId, err: error }, 'deferred removal failed'),
    );
  }

  #touch(record: TaskRecord | undefined): void {
    if (record) record.lastAccess = this.#clock.now();
  }

  #assertOpen(): void {
    if (this.#closed) throw new ConflictError('piece store is closed');
  }
}
