import { open } from 'node:fs/promises';
import { ConflictError } from '../core/errors.ts';
import { type Clock, type Logger, systemTimers, type Timers } from './deps.ts';
import type { Evictor } from './eviction.ts';
import type { KeyedMutex } from './keyed-mutex.ts';
import { PartialTask, type PartialTaskOptions } from './partial-task.ts';
import type { TaskDirs } from './task-dirs.ts';
import { fillPieceDigests, newPartialMeta, presentBitmap, type TaskMeta } from './task-meta.ts';
import type { TaskRecord, TaskTable } from './task-table.ts';

/** The piece store's shared state that partial writers need. */
export interface PartialTasksContext {
  readonly table: TaskTable;
  readonly mutex: KeyedMutex;
  readonly dirs: TaskDirs;
  readonly evictor: Evictor;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly timers?: Timers;
  readonly persistDelayMs?: number;
  readonly verifyDigestOnComplete?: boolean;
  readonly onPiece?: (taskId: string, index: number) => void;
}

/**
 * The piece store's partial-task writers: at most one open writer per task (shared by
 * concurrent openers), each holding a pin on its task until closed.
 */
export class PartialTasks {
  readonly #ctx: PartialTasksContext;
  readonly #writers = new Map<string, PartialTask>();

  constructor(ctx: PartialTasksContext) {
    this.#ctx = ctx;
  }

  /** Opens the writer of `taskId`; the caller validated the ID and layout. */
  open(taskId: string, options: PartialTaskOptions): Promise<PartialTask> {
    const { table, mutex, dirs } = this.#ctx;
    return mutex.run(taskId, async () => {
      const existing = table.get(taskId);
      if (existing) {
        assertSameLayout(existing.meta, options);
        learnDigests(existing, options.pieceDigests);
      }
      const shared = this.#writers.get(taskId);
      if (shared) return shared.retain();
      const record = table.get(taskId) ?? (await this.#create(taskId, options));
      const handle = record.meta.complete
        ? undefined
        : await open(dirs.layout.dataFile(taskId), 'r+');
      const release = table.pin(taskId);
      const writer: PartialTask = new PartialTask(record, handle, {
        ...this.#host(taskId),
        closed: () => {
          release();
          if (this.#writers.get(taskId) === writer) this.#writers.delete(taskId);
        },
      });
      if (handle) this.#writers.set(taskId, writer);
      return writer;
    });
  }

  /** An import installed `record` complete: the open writer of that task turns complete. */
  supersede(taskId: string, record: TaskRecord): void {
    this.#writers.get(taskId)?.supersede(record);
  }

  /** Flushes and closes every open writer, whoever holds it (store shutdown). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#writers.values()].map((writer) => writer.closeAll()));
  }

  async #create(taskId: string, options: PartialTaskOptions): Promise<TaskRecord> {
    const now = this.#ctx.clock.now();
    const meta = newPartialMeta(taskId, options, new Date(now).toISOString());
    await this.#ctx.dirs.createPartial(meta);
    const record = { meta, present: presentBitmap(meta), bytes: 0, lastAccess: now, doomed: false };
    this.#ctx.table.set(taskId, record);
    return record;
  }

  #host(taskId: string) {
    const { table, mutex, dirs, evictor, clock, logger } = this.#ctx;
    return {
      logger,
      timers: this.#ctx.timers ?? systemTimers,
      persistDelayMs: this.#ctx.persistDelayMs ?? 0,
      verifyDigest: this.#ctx.verifyDigestOnComplete ?? true,
      persistMeta: (record: TaskRecord, meta: TaskMeta) =>
        mutex.run(taskId, async () => {
          if (table.get(taskId) !== record) return false;
          await dirs.writeMeta(meta);
          // Digests learnt while meta was being written stay known in memory.
          const pieceDigests = fillPieceDigests(meta.pieceDigests, record.meta.pieceDigests);
          record.meta = pieceDigests === meta.pieceDigests ? meta : { ...meta, pieceDigests };
          return true;
        }),
      pieceWritten: (record: TaskRecord, index: number, bytes: number) => {
        table.addBytes(record, bytes);
        record.lastAccess = clock.now();
        this.#ctx.onPiece?.(taskId, index);
        if (evictor.overCapacity) {
          evictor.evict().catch((error) => logger.error({ err: error }, 'eviction failed'));
        }
      },
      completed: async () => {
        await evictor.evict();
      },
      failed: (record: TaskRecord, error: unknown) => {
        logger.error({ taskId, err: error }, 'partial task failed; removing it');
        record.doomed = true;
      },
    };
  }
}

/** A reopen must announce the existing task's layout; digests count where both know them. */
function assertSameLayout(meta: TaskMeta, options: PartialTaskOptions): void {
  const same =
    meta.contentLength === options.contentLength &&
    meta.pieceSize === options.pieceSize &&
    meta.pieceDigests.every((digest, i) => {
      const other = options.pieceDigests[i] ?? '';
      return digest === '' || other === '' || digest === other;
    }) &&
    (meta.digest === undefined || options.digest === undefined || meta.digest === options.digest);
  if (!same) throw new ConflictError(`task ${meta.taskId} exists with another piece layout`);
}

/** Fills in the digests the task did not know yet (in memory; disk: next bitmap persist). */
function learnDigests(record: TaskRecord, pieceDigests: readonly string[]): void {
  const filled = fillPieceDigests(record.meta.pieceDigests, pieceDigests);
  if (filled !== record.meta.pieceDigests) record.meta = { ...record.meta, pieceDigests: filled };
}
