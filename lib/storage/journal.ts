import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError } from '../core/errors.ts';
import { type BackoffPolicy, DEFAULT_BACKOFF, fullJitterDelay } from './backoff.ts';
import {
  type Clock,
  type Logger,
  noopLogger,
  systemClock,
  systemTimers,
  type Timers,
} from './deps.ts';
import {
  type JournalEntry,
  type JournalEntryInput,
  JournalFiles,
  validateEntryInput,
} from './journal-files.ts';
import { JournalQueue, type Outcome, type Slot } from './journal-queue.ts';

/** Does the write-back work of one entry; throw to have it retried. Must be idempotent. */
export type JournalHandler = (
  entry: JournalEntry,
  context: { signal: AbortSignal },
) => Promise<void>;

export interface WriteBackJournalOptions {
  readonly dataDir: string;
  readonly handler: JournalHandler;
  /** Handlers running at once (default 4). */
  readonly concurrency?: number;
  readonly backoff?: BackoffPolicy;
  /** Failed attempts after which an entry moves to `journal/dead/` (default: never). */
  readonly maxAttempts?: number;
  /** Extra supersession test (e.g. the index names a newer task for the key). */
  readonly isSuperseded?: (entry: JournalEntry) => boolean;
  /** Pins the entry's task in the piece store until the entry is retired. */
  readonly pin?: (taskId: string) => () => void;
  /** Start the worker on open (default true); otherwise call start(). */
  readonly autoStart?: boolean;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly random?: () => number;
  readonly logger?: Logger;
}

export interface JournalMetrics {
  readonly pending: number;
  readonly inFlight: number;
  readonly oldestPendingAgeMs: number;
  readonly failures: number;
  readonly retired: number;
  readonly superseded: number;
  readonly cancelled: number;
  readonly deadLettered: number;
}

/** Opens `dataDir/journal/`, reloads pending entries (pinning their tasks) and starts the worker. */
export async function openWriteBackJournal(
  options: WriteBackJournalOptions,
): Promise<WriteBackJournal> {
  const dir = join(options.dataDir, 'journal');
  await mkdir(dir, { recursive: true });
  const logger = options.logger ?? noopLogger;
  const files = new JournalFiles(dir, logger);
  const journal = new WriteBackJournal(options, files);
  for (const entry of await files.load()) journal.adopt(entry);
  if (options.autoStart !== false) journal.start();
  return journal;
}

/**
 * The durable write-back queue behind mode-0 PUTs (DESIGN.md §3).
 *
 * Contracts:
 * - append() resolves only once the entry is on disk (file fsync + directory fsync): the peer
 *   may ack the PUT then. Entries survive restarts; openWriteBackJournal() resumes them.
 * - The worker runs `handler` for entries, at most `concurrency` at a time and one at a time
 *   per bucket/key in append order. Success retires (deletes) the entry; failure retries after
 *   a full-jitter exponential backoff.
 * - An entry is superseded, and retired without running, when a newer entry of the same key
 *   is queued behind it (the newer one carries the data) or when `isSuperseded` says so.
 * - Each pending entry's task stays pinned (`pin`) until the entry leaves the journal.
 */
export class WriteBackJournal {
  readonly #options: WriteBackJournalOptions;
  readonly #files: JournalFiles;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #logger: Logger;
  readonly #concurrency: number;
  readonly #queue = new JournalQueue();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #idleWaiters: Array<(error?: Error) => void> = [];
  #retiring = 0;
  #nextSeq = 0;
  #started = false;
  #closed = false;
  #counters = { failures: 0, retired: 0, superseded: 0, cancelled: 0, deadLettered: 0 };

  /** Use openWriteBackJournal(). */
  constructor(options: WriteBackJournalOptions, files: JournalFiles) {
    this.#options = options;
    this.#files = files;
    this.#clock = options.clock ?? systemClock;
    this.#timers = options.timers ?? systemTimers;
    this.#logger = options.logger ?? noopLogger;
    this.#concurrency = Math.max(1, options.concurrency ?? 4);
  }

  /** @internal Registers an entry reloaded from disk. */
  adopt(entry: JournalEntry): void {
    this.#nextSeq = Math.max(this.#nextSeq, entry.seq + 1);
    this.#queue.add(entry, this.#tryPin(entry.taskId));
  }

  /** Starts (or resumes) the worker. */
  start(): void {
    this.#started = true;
    this.#pump();
  }

  /**
   * Durably records an entry, pins its task (a task missing from the piece store makes `pin`
   * throw, and nothing is recorded) and queues it. ConflictError after close().
   */
  async append(input: JournalEntryInput): Promise<JournalEntry> {
    this.#assertOpen();
    validateEntryInput(input);
    const entry: JournalEntry = {
      ...input,
      id: randomUUID(),
      seq: this.#nextSeq++,
      createdAt: this.#clock.now(),
      attempts: 0,
    };
    const unpin = this.#options.pin?.(entry.taskId);
    try {
      await this.#files.write(entry);
    } catch (error) {
      unpin?.();
      throw error;
    }
    this.#queue.add(entry, unpin);
    this.#pump();
    return entry;
  }

  /** Pending entries, append order. */
  pending(): JournalEntry[] {
    return [...this.#queue.slots()].map((slot) => slot.entry).sort((a, b) => a.seq - b.seq);
  }

  /**
   * Runs the key's pending entries now (skipping backoff waits) and resolves once they left
   * the journal; rejects if one is dead-lettered, the journal closes, or `signal` aborts.
   */
  async flushKey(
    bucket: string,
    key: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    this.#assertOpen();
    const slots = this.#queue.forKey(bucket, key);
    const done = Promise.all(slots.map((slot) => this.#settled(slot, options.signal)));
    for (const slot of slots) this.#expedite(slot);
    this.#pump();
    await done;
  }

  /**
   * Retires the key's pending entries without running them (a DELETE of the key won). An
   * entry already running is aborted through its signal and retired when it settles; the
   * promise resolves after that, so a backend delete issued next lands after any put.
   */
  async cancelKey(bucket: string, key: string): Promise<number> {
    this.#assertOpen();
    const slots = this.#queue.forKey(bucket, key);
    const done = Promise.all(slots.map((slot) => this.#settled(slot).catch(() => {})));
    for (const slot of slots) {
      slot.cancelled = true;
      if (slot.inFlight) slot.abort?.abort(new Error('write-back cancelled'));
      else await this.#retire(slot, 'cancelled');
    }
    await done;
    return slots.length;
  }

  /** Runs every pending entry now and resolves when the journal is empty. */
  async drain(): Promise<void> {
    this.#assertOpen();
    if (this.#queue.size === 0) return;
    const idle = new Promise<void>((resolve, reject) =>
      this.#idleWaiters.push((error) => (error ? reject(error) : resolve())),
    );
    for (const slot of this.#queue.slots()) this.#expedite(slot);
    this.#pump();
    await idle;
  }

  /**
   * Graceful shutdown: refuses new appends, starts nothing new, waits for running handlers
   * (aborting them first with `abort: true`), releases pins. Pending entries stay on disk.
   */
  async close(options: { abort?: boolean } = {}): Promise<void> {
    this.#closed = true;
    for (const slot of this.#queue.slots()) {
      if (slot.timer !== undefined) this.#timers.clearTimeout(slot.timer);
      slot.timer = undefined;
      if (options.abort) slot.abort?.abort(new Error('write-back journal closing'));
    }
    await Promise.all(this.#inFlight);
    const closed = new Error('write-back journal closed');
    for (const slot of this.#queue.slots()) {
      slot.unpin?.();
      for (const waiter of slot.waiters.splice(0)) waiter(closed);
    }
    for (const waiter of this.#idleWaiters.splice(0)) waiter(closed);
  }

  metrics(): JournalMetrics {
    const oldest = this.#queue.oldestCreatedAt();
    return {
      pending: this.#queue.size,
      inFlight: this.#inFlight.size,
      oldestPendingAgeMs: oldest === undefined ? 0 : Math.max(0, this.#clock.now() - oldest),
      ...this.#counters,
    };
  }

  /** Starts what may start: the head of each key's queue, when due, up to the concurrency. */
  #pump(): void {
    if (!this.#started || this.#closed) return;
    for (const { head, hasNewer } of this.#queue.heads()) {
      if (head.inFlight || head.cancelled) continue;
      if (hasNewer || this.#supersededByHook(head.entry)) {
        void this.#retire(head, 'superseded').then(() => this.#pump());
        continue;
      }
      const wait = head.nextAttemptAt - this.#clock.now();
      if (wait > 0) {
        head.timer ??= this.#timers.setTimeout(() => {
          head.timer = undefined;
          this.#pump();
        }, wait);
        continue;
      }
      if (this.#inFlight.size >= this.#concurrency) return;
      const run = this.#run(head).finally(() => {
        this.#inFlight.delete(run);
        this.#settleIdle();
        this.#pump();
      });
      this.#inFlight.add(run);
    }
  }

  /**
   * One handler run. The slot counts as in flight until the failure bookkeeping is written, so
   * a concurrent cancelKey only flags it and the retire below cannot race a rewrite of its file.
   */
  async #run(slot: Slot): Promise<void> {
    const { entry } = slot;
    slot.inFlight = true;
    slot.abort = new AbortController();
    let outcome: Outcome | undefined;
    try {
      await this.#options.handler(entry, { signal: slot.abort.signal });
      outcome = 'retired';
    } catch (error) {
      if (!slot.cancelled) outcome = await this.#failed(entry, slot, error);
    } finally {
      slot.inFlight = false;
      slot.abort = undefined;
    }
    if (slot.cancelled) outcome = 'cancelled';
    if (outcome) await this.#retire(slot, outcome);
  }

  /** Counts a failure and schedules the retry; 'dead' when the attempts are exhausted. */
  async #failed(entry: JournalEntry, slot: Slot, error: unknown): Promise<Outcome | undefined> {
    this.#counters.failures++;
    entry.attempts++;
    const log = { taskId: entry.taskId, attempts: entry.attempts, err: error };
    if (entry.attempts >= (this.#options.maxAttempts ?? Number.POSITIVE_INFINITY)) {
      this.#logger.error(log, 'write-back gave up; entry moved to journal/dead');
      return 'dead';
    }
    this.#logger.warn(log, 'write-back failed; will retry');
    const backoff = this.#options.backoff ?? DEFAULT_BACKOFF;
    slot.nextAttemptAt =
      this.#clock.now() + fullJitterDelay(entry.attempts, backoff, this.#options.random);
    await this.#files
      .write(entry)
      .catch((cause) => this.#logger.warn({ err: cause }, 'could not persist the attempt counter'));
    return undefined;
  }

  /** Removes an entry from disk and memory, releases its pin and settles its waiters. */
  async #retire(slot: Slot, outcome: Outcome): Promise<void> {
    if (!this.#queue.delete(slot)) return;
    if (slot.timer !== undefined) this.#timers.clearTimeout(slot.timer);
    this.#retiring++;
    try {
      if (outcome === 'dead') await this.#files.bury(slot.entry);
      else await this.#files.remove(slot.entry);
    } catch (error) {
      const log = { taskId: slot.entry.taskId, err: error };
      this.#logger.error(log, 'could not retire a journal entry');
    } finally {
      this.#retiring--;
    }
    this.#counters[outcome === 'dead' ? 'deadLettered' : outcome]++;
    slot.unpin?.();
    const result = outcome === 'dead' ? new Error('write-back gave up (journal/dead)') : outcome;
    for (const waiter of slot.waiters.splice(0)) waiter(result);
    this.#settleIdle();
  }

  /** Resolves drain() once nothing is pending, running or being retired. */
  #settleIdle(): void {
    if (this.#queue.size > 0 || this.#retiring > 0 || this.#inFlight.size > 0) return;
    for (const waiter of this.#idleWaiters.splice(0)) waiter();
  }

  #settled(slot: Slot, signal?: AbortSignal): Promise<void> {
    if (!this.#queue.has(slot)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal?.reason ?? new Error('aborted'));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      slot.waiters.push((outcome) => {
        signal?.removeEventListener('abort', onAbort);
        if (outcome instanceof Error) reject(outcome);
        else resolve();
      });
    });
  }

  #expedite(slot: Slot): void {
    slot.nextAttemptAt = 0;
    if (slot.timer !== undefined) this.#timers.clearTimeout(slot.timer);
    slot.timer = undefined;
  }

  #supersededByHook(entry: JournalEntry): boolean {
    try {
      return this.#options.isSuperseded?.(entry) ?? false;
    } catch (error) {
      this.#logger.warn({ taskId: entry.taskId, err: error }, 'isSuperseded threw; running entry');
      return false;
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new ConflictError('write-back journal is closed');
  }

  #tryPin(taskId: string): (() => void) | undefined {
    try {
      return this.#options.pin?.(taskId);
    } catch (error) {
      this.#logger.error({ taskId, err: error }, 'journaled task is missing from the piece store');
      return undefined;
    }
  }
}
