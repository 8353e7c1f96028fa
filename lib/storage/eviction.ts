import type { Logger } from './deps.ts';
import type { TaskRecord, TaskTable } from './task-table.ts';

export interface EvictionReport {
  readonly evicted: string[];
  readonly usedBytes: number;
  /** How far usage stays over capacity because everything left is pinned (0 normally). */
  readonly overCapacityBytes: number;
}

/**
 * Capacity-bounded LRU eviction over a TaskTable. Runs are serialized, and a run requested
 * while another is queued joins it, so a burst of writes costs one pass. `remove` is the
 * store's removal (it re-checks pins under the task lock and answers whether it removed).
 */
export class Evictor {
  readonly #table: TaskTable;
  readonly #capacity: number;
  readonly #remove: (record: TaskRecord) => Promise<boolean>;
  readonly #logger: Logger;
  #chain: Promise<unknown> = Promise.resolve();
  #queued?: Promise<EvictionReport>;
  #overCapacityBytes = 0;

  constructor(
    table: TaskTable,
    capacity: number,
    remove: (record: TaskRecord) => Promise<boolean>,
    logger: Logger,
  ) {
    this.#table = table;
    this.#capacity = capacity;
    this.#remove = remove;
    this.#logger = logger;
  }

  get capacity(): number {
    return this.#capacity;
  }

  get overCapacityBytes(): number {
    return this.#overCapacityBytes;
  }

  get overCapacity(): boolean {
    return this.#table.usedBytes > this.#capacity;
  }

  /** Evicts unpinned tasks, least recently used first, until usage is within capacity. */
  evict(): Promise<EvictionReport> {
    if (this.#queued) return this.#queued;
    const run = this.#chain.then(() => {
      this.#queued = undefined;
      return this.#runOnce();
    });
    this.#queued = run;
    this.#chain = run.catch(() => {});
    return run;
  }

  /**
   * Evicts unpinned tasks, least recently used first, until `bytes` of task data are gone or
   * nothing unpinned is left (the disk filled before `capacity` was reached). Serialized with
   * the capacity runs. Resolves with what it evicted.
   */
  free(bytes: number): Promise<EvictionReport> {
    const run = this.#chain.then(async () => {
      const evicted: string[] = [];
      const target = this.#table.usedBytes - bytes;
      for (const record of this.#table.evictionOrder()) {
        if (this.#table.usedBytes <= target) break;
        if (await this.#remove(record)) evicted.push(record.meta.taskId);
      }
      const usedBytes = this.#table.usedBytes;
      if (evicted.length > 0) {
        this.#logger.info(
          { evicted: evicted.length, usedBytes, wanted: bytes },
          'evicted for room',
        );
      }
      return { evicted, usedBytes, overCapacityBytes: this.#overCapacityBytes };
    });
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Waits for queued runs. */
  async settled(): Promise<void> {
    await this.#chain;
  }

  async #runOnce(): Promise<EvictionReport> {
    const evicted: string[] = [];
    for (const record of this.#table.evictionOrder()) {
      if (!this.overCapacity) break;
      if (await this.#remove(record)) evicted.push(record.meta.taskId);
    }
    const usedBytes = this.#table.usedBytes;
    this.#overCapacityBytes = Math.max(0, usedBytes - this.#capacity);
    if (this.#overCapacityBytes > 0) {
      const pinnedBytes = this.#table.pinnedBytes();
      this.#logger.warn(
        { usedBytes, capacity: this.#capacity, pinnedBytes },
        'piece store over capacity: every remaining task is pinned',
      );
    }
    if (evicted.length > 0) this.#logger.info({ evicted: evicted.length, usedBytes }, 'evicted');
    return { evicted, usedBytes, overCapacityBytes: this.#overCapacityBytes };
  }
}
