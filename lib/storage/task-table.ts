import { NotFoundError } from '../core/errors.ts';
import type { PieceBitmap } from './piece-bitmap.ts';
import type { TaskMeta } from './task-meta.ts';

/** What the piece store knows in memory about one task on disk. */
export interface TaskRecord {
  /** The meta as last written to disk (for a partial task, its bitmap may lag `present`). */
  meta: TaskMeta;
  /** Pieces whose bytes are written (readable), durable or not yet. */
  readonly present: PieceBitmap;
  /** Bytes counted against the capacity: the content length, or the present pieces' bytes. */
  bytes: number;
  /** Last read or write (ms), for LRU eviction; seeded from meta.json's mtime at startup. */
  lastAccess: number;
  /** remove() was called while pinned: the task goes when the last pin is released. */
  doomed: boolean;
}

/**
 * The in-memory table of tasks: records, capacity accounting, pins (reference counts) and the
 * LRU order. Pure bookkeeping, no I/O; the piece store owns the disk side.
 */
export class TaskTable {
  readonly #records = new Map<string, TaskRecord>();
  readonly #pins = new Map<string, number>();
  readonly #onReleased: (taskId: string) => void;
  #usedBytes = 0;

  /** `onReleased` runs when a task's last pin is released. */
  constructor(onReleased: (taskId: string) => void) {
    this.#onReleased = onReleased;
  }

  get usedBytes(): number {
    return this.#usedBytes;
  }

  get size(): number {
    return this.#records.size;
  }

  get(taskId: string): TaskRecord | undefined {
    return this.#records.get(taskId);
  }

  values(): IterableIterator<TaskRecord> {
    return this.#records.values();
  }

  set(taskId: string, record: TaskRecord): void {
    this.delete(taskId);
    this.#records.set(taskId, record);
    this.#usedBytes += record.bytes;
  }

  delete(taskId: string): TaskRecord | undefined {
    const record = this.#records.get(taskId);
    if (!record) return undefined;
    this.#records.delete(taskId);
    this.#usedBytes -= record.bytes;
    return record;
  }

  addBytes(record: TaskRecord, bytes: number): void {
    record.bytes += bytes;
    if (this.#records.get(record.meta.taskId) === record) this.#usedBytes += bytes;
  }

  pinCount(taskId: string): number {
    return this.#pins.get(taskId) ?? 0;
  }

  /**
   * Pins an existing task (NotFoundError otherwise) and returns its release function, which is
   * idempotent. A pinned task is never evicted and remove() defers until the last release.
   */
  pin(taskId: string): () => void {
    if (!this.#records.has(taskId)) throw new NotFoundError(`task ${taskId} not found`);
    this.#pins.set(taskId, this.pinCount(taskId) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.pinCount(taskId) - 1;
      if (left > 0) {
        this.#pins.set(taskId, left);
        return;
      }
      this.#pins.delete(taskId);
      this.#onReleased(taskId);
    };
  }

  /** Unpinned tasks, least recently used first: the eviction order. */
  evictionOrder(): TaskRecord[] {
    return [...this.#records.values()]
      .filter((r) => this.pinCount(r.meta.taskId) === 0)
      .sort((a, b) => a.lastAccess - b.lastAccess);
  }

  /** Bytes of pinned tasks (what eviction cannot reclaim). */
  pinnedBytes(): number {
    let total = 0;
    for (const [taskId] of this.#pins) total += this.#records.get(taskId)?.bytes ?? 0;
    return total;
  }
}
