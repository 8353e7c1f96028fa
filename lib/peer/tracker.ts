import type { z } from 'zod';
import { GoneError, NotFoundError, ValidationError } from '../core/errors.ts';
import {
  type Clock,
  type Logger,
  systemClock,
  systemTimers,
  type Timers,
} from '../storage/deps.ts';
import { isTaskId } from '../storage/layout.ts';
import type { CurrentVersion, NodeRef, SyncResponse, syncRequestSchema } from './p2p-protocol.ts';
import type { SourceFetch, SourceFetcher } from './source-fetch.ts';
import { TrackedTask, type TrackedTaskDeps, type TrackerStore } from './tracker-task.ts';

export interface TrackerDeps {
  /** This seed peer. */
  readonly self: NodeRef;
  readonly store: TrackerStore;
  /** Resolves once the partial task is in the store; rejects NotFoundError/VersionChangedError. */
  readonly sources: Pick<SourceFetcher, 'fetch' | 'inFlight'>;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly timers?: Timers;
  /** Forget a holder not heard from for this long (default 10 min). */
  readonly holderTtlMs?: number;
  /** Forget a pending version after this long (default 1 h). */
  readonly pendingTtlMs?: number;
  /** How long syncs of a dropped task answer 410 (default 10 min). */
  readonly goneTtlMs?: number;
}

/** The task is neither tracked, nor stored here, nor fetchable (the sync carried no source). */
export class TaskNotFoundError extends NotFoundError {
  override readonly name = 'TaskNotFoundError';
  override readonly code = 'ERR_TASK_NOT_FOUND';
}

type SyncRequestBody = z.output<typeof syncRequestSchema>;
type Source = NonNullable<SyncRequestBody['source']>;

/** One source fetch of a task, as the tracker follows it. */
interface FetchState {
  readonly started: Promise<SourceFetch>;
  settled: boolean;
  fetch?: SourceFetch;
  error?: string;
  failedAt?: number;
}

const MINUTE = 60_000;
/** A failed fetch is retried by a later sync with `source`, at most this often. */
const FETCH_RETRY_MS = 1_000;

/**
 * The tracker of the tasks this seed peer owns (docs/P2P.md "Reads"): who holds which pieces,
 * the layout, and the back-to-source fetch when nobody holds a task. State lives in memory
 * only; a restarted seed peer relearns holders from later syncs.
 *
 * Revisions come from one tracker-wide counter, so a task's revision only grows, even when it
 * is forgotten and tracked again. A long poll waits only when its `since` is the revision it
 * finds (a `since` from another process's counter is answered at once), and the caller's own
 * announce does not wake it.
 */
export class Tracker {
  readonly #deps: TrackerDeps;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #holderTtl: number;
  readonly #pendingTtl: number;
  readonly #goneTtl: number;
  readonly #tasks = new Map<string, TrackedTask>();
  readonly #fetches = new WeakMap<TrackedTask, FetchState>();
  /** `bucket/key` → task IDs known for it. */
  readonly #byKey = new Map<string, Set<string>>();
  /** Dropped task → when its 410 ends. */
  readonly #gone = new Map<string, number>();
  readonly #pending = new Map<string, { version: CurrentVersion; expiresAt: number }>();
  readonly #taskDeps: TrackedTaskDeps;
  #revisions = 0;
  #sweepTimer: unknown;
  #closed = false;

  constructor(deps: TrackerDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? systemClock;
    this.#timers = deps.timers ?? systemTimers;
    this.#holderTtl = deps.holderTtlMs ?? 10 * MINUTE;
    this.#pendingTtl = deps.pendingTtlMs ?? 60 * MINUTE;
    this.#goneTtl = deps.goneTtlMs ?? 10 * MINUTE;
    this.#taskDeps = {
      store: deps.store,
      self: deps.self,
      timers: this.#timers,
      nextRevision: () => ++this.#revisions,
    };
    this.#scheduleSweep();
  }

  /** `POST /p2p/v1/tasks/:taskId/sync` (request already validated by syncRequestSchema). */
  async sync(
    taskId: string,
    request: SyncRequestBody,
    signal?: AbortSignal,
  ): Promise<SyncResponse> {
    if (!isTaskId(taskId)) throw new ValidationError('taskId must be 64 lower-case hex characters');
    this.#assertNotGone(taskId);
    const task = this.#taskFor(taskId, request);
    const seen = task.revision;
    task.touchedAt = this.#clock.now();
    if (request.layout) task.adopt(request.layout);
    if (request.source) this.#index(task, request.source.bucket, request.source.key);

    let layout = task.currentLayout();
    const awaited = !layout;
    if (!layout) {
      if (!request.source) throw new TaskNotFoundError(`task ${taskId} is not known here`);
      await this.#fetchFor(task, request.source);
      this.#assertNotGone(taskId);
      layout = task.currentLayout();
      if (!layout) throw new TaskNotFoundError(`task ${taskId} left the store`);
    }
    this.#index(task, layout.bucket, layout.key);
    task.announce(request.node, request.have, !!request.layout, layout, this.#clock.now());
    if (request.source && !awaited && this.#mayRefetch(task)) {
      // Some piece has no known holder: never fetched here, a fetch failed, pieces evicted.
      this.#fetchFor(task, request.source).catch(() => {}); // answers show it as sourceError
    }

    if (request.since === seen && !awaited && !this.#closed) {
      await task.wait(request.waitMs, signal);
    }
    return task.answer(request.node.peerId, this.#sourceError(task));
  }

  /** Our own piece of `taskId` landed in the store (the store's onPiece hook). */
  pieceAdded(taskId: string, _index: number): void {
    this.#tasks.get(taskId)?.bump();
  }

  /** Every task known for bucket/key except `keep`, with their holders (never self). */
  versionsOfKey(
    bucket: string,
    key: string,
    keep?: string,
  ): { taskId: string; holders: NodeRef[] }[] {
    const ids = this.#byKey.get(keyOf(bucket, key)) ?? new Set<string>();
    const versions: { taskId: string; holders: NodeRef[] }[] = [];
    for (const taskId of ids) {
      const task = this.#tasks.get(taskId);
      if (taskId !== keep && task) versions.push({ taskId, holders: task.holderNodes() });
    }
    return versions;
  }

  /**
   * Forgets a task evicted cluster-wide: its waiting long polls and, for `goneTtlMs`, later
   * syncs of it are answered 410 (so no holder re-registers a version just dropped).
   */
  dropTask(taskId: string): void {
    this.#gone.set(taskId, this.#clock.now() + this.#goneTtl);
    const task = this.#tasks.get(taskId);
    if (!task) return;
    this.#forget(task);
    task.settleWaiters(goneError(taskId));
  }

  /** Undoes dropTask: the key names this task again (the same bytes were written again). */
  revive(taskId: string): void {
    this.#gone.delete(taskId);
  }

  setPending(bucket: string, key: string, version: CurrentVersion): void {
    const expiresAt = this.#clock.now() + this.#pendingTtl;
    this.#pending.set(keyOf(bucket, key), { version, expiresAt });
  }

  clearPending(bucket: string, key: string): void {
    this.#pending.delete(keyOf(bucket, key));
  }

  pending(bucket: string, key: string): CurrentVersion | undefined {
    const entry = this.#pending.get(keyOf(bucket, key));
    if (!entry) return undefined;
    if (entry.expiresAt > this.#clock.now()) return entry.version;
    this.#pending.delete(keyOf(bucket, key));
    return undefined;
  }

  /** Answers waiting long polls and stops the sweep; later syncs answer without waiting. */
  close(): void {
    this.#closed = true;
    this.#timers.clearTimeout(this.#sweepTimer);
    for (const task of this.#tasks.values()) task.settleWaiters();
  }

  #taskFor(taskId: string, request: SyncRequestBody): TrackedTask {
    const known = this.#tasks.get(taskId);
    if (known) return known;
    const { store } = this.#deps;
    if (!request.layout && !request.source && !store.stat(taskId)) {
      throw new TaskNotFoundError(`task ${taskId} is not known here`);
    }
    const task = new TrackedTask(taskId, this.#taskDeps, this.#clock.now());
    this.#tasks.set(taskId, task);
    return task;
  }

  /**
   * Starts (or joins) the task's fetch from the backend and resolves once the partial task is
   * in the store. One fetch per task at a time here; the fetcher is single flight as well.
   */
  #fetchFor(task: TrackedTask, source: Source): Promise<SourceFetch> {
    const running = this.#fetches.get(task);
    if (running && !running.settled) return running.started;
    const { sources, logger } = this.#deps;
    const { taskId } = task;
    const inFlight = sources.inFlight(taskId);
    const started = inFlight ? Promise.resolve(inFlight) : sources.fetch({ taskId, ...source });
    const state: FetchState = {
      settled: false,
      started: started.then(
        (fetch) => {
          state.fetch = fetch;
          task.origin = { bucket: fetch.bucket, key: fetch.key, metadata: fetch.metadata };
          this.#index(task, fetch.bucket, fetch.key);
          fetch.done.then(
            () => {
              state.settled = true;
            },
            (error: unknown) => {
              this.#failed(state, fetch.failure() ?? messageOf(error));
              logger.warn({ taskId, err: state.error }, 'source fetch failed');
              task.bump();
            },
          );
          task.bump();
          return fetch;
        },
        (error: unknown) => {
          this.#failed(state, messageOf(error));
          this.#forgetIfEmpty(task);
          task.bump();
          throw error;
        },
      ),
    };
    this.#fetches.set(task, state);
    return state.started;
  }

  #failed(state: FetchState, error: string): void {
    state.settled = true;
    state.error = error;
    state.failedAt = this.#clock.now();
  }

  #mayRefetch(task: TrackedTask): boolean {
    if (this.#fetching(task) || task.covered()) return false;
    const failedAt = this.#fetches.get(task)?.failedAt;
    return failedAt === undefined || this.#clock.now() - failedAt >= FETCH_RETRY_MS;
  }

  #fetching(task: TrackedTask): boolean {
    const state = this.#fetches.get(task);
    return (state !== undefined && !state.settled) || !!this.#deps.sources.inFlight(task.taskId);
  }

  #sourceError(task: TrackedTask): string | undefined {
    const state = this.#fetches.get(task);
    return state?.error ?? state?.fetch?.failure();
  }

  #index(task: TrackedTask, bucket: string, key: string): void {
    // A task dropped while its fetch ran stays out of the index.
    if (!bucket || !key || this.#tasks.get(task.taskId) !== task) return;
    const entry = keyOf(bucket, key);
    if (task.keys.has(entry)) return;
    task.keys.add(entry);
    const ids = this.#byKey.get(entry) ?? new Set<string>();
    ids.add(task.taskId);
    this.#byKey.set(entry, ids);
  }

  #forget(task: TrackedTask): void {
    if (this.#tasks.get(task.taskId) !== task) return;
    this.#tasks.delete(task.taskId);
    for (const entry of task.keys) {
      const ids = this.#byKey.get(entry);
      ids?.delete(task.taskId);
      if (ids?.size === 0) this.#byKey.delete(entry);
    }
  }

  /** After a failed first fetch: nothing worth keeping (no holder, no layout, no waiter). */
  #forgetIfEmpty(task: TrackedTask): void {
    if (task.holderCount === 0 && task.waiterCount === 0 && !task.currentLayout()) {
      this.#forget(task);
    }
  }

  #assertNotGone(taskId: string): void {
    const until = this.#gone.get(taskId);
    if (until === undefined) return;
    if (until > this.#clock.now()) throw goneError(taskId);
    this.#gone.delete(taskId);
  }

  #scheduleSweep(): void {
    const period = Math.max(1_000, Math.min(MINUTE, this.#holderTtl / 2));
    this.#sweepTimer = this.#timers.setTimeout(() => {
      this.#sweep();
      if (!this.#closed) this.#scheduleSweep();
    }, period);
  }

  /** Drops stale holders, idle tasks, expired tombstones and pending versions. */
  #sweep(): void {
    const now = this.#clock.now();
    const cutoff = now - this.#holderTtl;
    for (const task of [...this.#tasks.values()]) {
      task.pruneHolders(cutoff);
      const idle = task.holderCount === 0 && task.waiterCount === 0 && task.touchedAt <= cutoff;
      if (idle && !this.#fetching(task) && !task.holdsPieces()) this.#forget(task);
    }
    for (const [taskId, until] of this.#gone) if (until <= now) this.#gone.delete(taskId);
    for (const [entry, { expiresAt }] of this.#pending) {
      if (expiresAt <= now) this.#pending.delete(entry);
    }
  }
}

function keyOf(bucket: string, key: string): string {
  // Bucket names have no '/', so the first one separates them.
  return `${bucket}/${key}`;
}

function goneError(taskId: string): GoneError {
  return new GoneError(`task ${taskId} was dropped: its key names another version`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
