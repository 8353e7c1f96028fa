import type { JournalEntry } from './journal-files.ts';

export type Outcome = 'retired' | 'superseded' | 'cancelled' | 'dead';

/** The worker's state for one pending entry. */
export interface Slot {
  readonly entry: JournalEntry;
  /** When the next attempt may start (ms, the journal's clock); 0 = now. */
  nextAttemptAt: number;
  inFlight: boolean;
  /** cancelKey flagged it: retire without (re)running. */
  cancelled: boolean;
  abort?: AbortController;
  timer?: unknown;
  unpin?: () => void;
  /** Settled with the outcome when the entry leaves the journal (an Error for dead/closed). */
  readonly waiters: Array<(outcome: Outcome | Error) => void>;
}

/**
 * Pending entries in memory: by id, and per bucket/key in append (seq) order, so the worker
 * can run only the head of each key's queue.
 */
export class JournalQueue {
  readonly #slots = new Map<string, Slot>();
  readonly #byKey = new Map<string, Slot[]>();

  get size(): number {
    return this.#slots.size;
  }

  slots(): IterableIterator<Slot> {
    return this.#slots.values();
  }

  has(slot: Slot): boolean {
    return this.#slots.get(slot.entry.id) === slot;
  }

  add(entry: JournalEntry, unpin: (() => void) | undefined): Slot {
    const slot: Slot = {
      entry,
      nextAttemptAt: 0,
      inFlight: false,
      cancelled: false,
      unpin,
      waiters: [],
    };
    this.#slots.set(entry.id, slot);
    const key = keyOf(entry.bucket, entry.key);
    const queue = this.#byKey.get(key) ?? [];
    queue.push(slot);
    queue.sort((a, b) => a.entry.seq - b.entry.seq);
    this.#byKey.set(key, queue);
    return slot;
  }

  /** Removes a slot; false when it was not (or no longer) queued. */
  delete(slot: Slot): boolean {
    if (!this.has(slot)) return false;
    this.#slots.delete(slot.entry.id);
    const key = keyOf(slot.entry.bucket, slot.entry.key);
    const queue = this.#byKey.get(key) ?? [];
    const at = queue.indexOf(slot);
    if (at >= 0) queue.splice(at, 1);
    if (queue.length === 0) this.#byKey.delete(key);
    return true;
  }

  /** The key's pending slots, oldest first (a copy). */
  forKey(bucket: string, key: string): Slot[] {
    return [...(this.#byKey.get(keyOf(bucket, key)) ?? [])];
  }

  /** Each key's oldest slot, and whether newer entries of that key are queued behind it. */
  *heads(): IterableIterator<{ head: Slot; hasNewer: boolean }> {
    for (const queue of [...this.#byKey.values()]) {
      const head = queue[0];
      if (head) yield { head, hasNewer: queue.length > 1 };
    }
  }

  /** createdAt of the oldest pending entry, if any. */
  oldestCreatedAt(): number | undefined {
    let oldest: number | undefined;
    for (const { entry } of this.#slots.values()) {
      if (oldest === undefined || entry.createdAt < oldest) oldest = entry.createdAt;
    }
    return oldest;
  }
}

function keyOf(bucket: string, key: string): string {
  return `${bucket}\0${key}`;
}
