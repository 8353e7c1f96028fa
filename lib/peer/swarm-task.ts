import type { Readable } from 'node:stream';
import { IntegrityError, NotFoundError } from '../core/errors.ts';
import { pieceRange } from '../core/piece-size.ts';
import type { PartialTask } from '../storage/partial-task.ts';
import type { SyncRequest, SyncResponse, TaskLayout } from './p2p-protocol.ts';
import type { SwarmDeps, SwarmDownload, SwarmRequest } from './swarm-download.ts';
import type { Assignment } from './swarm-scheduler.ts';
import { streamLandingPieces } from './swarm-stream.ts';
import { Trackers } from './swarm-trackers.ts';
import { haveBitmap, partialOptions, SwarmView } from './swarm-view.ts';

/**
 * The writer as the swarm uses it. `expectedDigest` is the tracker's digest of a piece whose
 * layout digest was '' when the task was opened (the store checks the piece against it).
 */
type PieceWriter = Pick<PartialTask, 'isComplete' | 'onPiece' | 'onComplete' | 'close'> & {
  writePiece(index: number, data: Uint8Array, expectedDigest?: string): Promise<boolean>;
};

type State = 'starting' | 'running' | 'succeeded' | 'failed';

/** Download defaults (SwarmDeps). */
const DEFAULTS = {
  concurrency: 8,
  perSource: 3,
  pieceTimeoutMs: 30_000,
  syncWaitMs: 1_000,
  stallTimeoutMs: 60_000,
};
/** Bound on the final announce of a complete task to its tracker. */
const ANNOUNCE_TIMEOUT_MS = 5_000;

/** One download of one task from the swarm (docs/P2P.md, Reads steps 2–5). */
export class SwarmTask implements SwarmDownload {
  readonly taskId: string;
  readonly done: Promise<void>;
  readonly #deps: SwarmDeps;
  readonly #request: SwarmRequest;
  readonly #options: typeof DEFAULTS;
  readonly #trackers: Trackers;
  readonly #abort = new AbortController();
  readonly #fetches = new Set<Promise<void>>();
  /** Piece buffers for fetches (at most `concurrency`), reused: no 4 MiB garbage per piece. */
  readonly #buffers: Buffer[] = [];
  readonly #unsubscribe: Array<() => void> = [];
  #settle: { resolve: () => void; reject: (error: Error) => void } = {
    resolve: () => {},
    reject: () => {},
  };
  #state: State = 'starting';
  #failure?: Error;
  #view?: SwarmView;
  #partial?: PieceWriter;
  #changed = pulse();
  readonly #missing = (index: number): boolean => !this.#deps.store.hasPiece(this.taskId, index);
  #stallTimer?: ReturnType<typeof setTimeout>;

  constructor(deps: SwarmDeps, request: SwarmRequest) {
    this.#deps = deps;
    this.#request = request;
    this.taskId = request.taskId;
    this.#options = {
      concurrency: deps.concurrency ?? DEFAULTS.concurrency,
      perSource: deps.perSource ?? DEFAULTS.perSource,
      pieceTimeoutMs: deps.pieceTimeoutMs ?? DEFAULTS.pieceTimeoutMs,
      syncWaitMs: deps.syncWaitMs ?? DEFAULTS.syncWaitMs,
      stallTimeoutMs: deps.stallTimeoutMs ?? DEFAULTS.stallTimeoutMs,
    };
    this.#trackers = new Trackers(request.owners, deps.client, request.taskId, deps.logger);
    this.done = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.done.catch(() => {});
  }

  get layout(): TaskLayout {
    return this.#started.layout;
  }

  /** Finds a tracker, opens the partial task and starts the sync loop and the fetches. */
  async start(): Promise<void> {
    try {
      const first = await this.#firstAnswer();
      const partial: PieceWriter = await this.#deps.store.openPartial(
        this.taskId,
        partialOptions(first.layout, this.#request),
      );
      if (this.#state !== 'starting') {
        await partial.close();
        throw this.#failure;
      }
      this.#partial = partial;
      this.#state = 'running';
      this.#started.adopt(this.#deps.store.stat(this.taskId)?.pieceDigests ?? []);
      this.#unsubscribe.push(
        partial.onPiece(() => this.#progress()),
        partial.onComplete(() => this.#finish()),
      );
      this.#armStallTimer();
      if (partial.isComplete) {
        this.#finish();
        return;
      }
      void this.#syncLoop();
      this.#pump();
    } catch (error) {
      this.#finish(asError(error));
      throw error;
    }
  }

  stream(range?: { start: number; end: number }): Readable {
    const { contentLength, pieceSize } = this.layout;
    const { store } = this.#deps;
    return streamLandingPieces(
      store,
      {
        taskId: this.taskId,
        contentLength,
        pieceSize,
        has: (index) => store.hasPiece(this.taskId, index),
        changed: () => this.#nextChange(),
      },
      range,
    );
  }

  abort(reason: Error): void {
    this.#finish(reason);
  }

  /** The first usable answer, from the owners in rank order. */
  async #firstAnswer(): Promise<SyncResponse> {
    for (;;) {
      const answer = await this.#trackers.sync(this.#syncBody(), 0, this.#abort.signal);
      this.#apply(answer);
      if (answer.sourceError !== undefined && this.#started.blocked(this.#missing)) {
        this.#trackers.reject(new Error(answer.sourceError));
        continue;
      }
      this.#trackers.accept();
      return answer;
    }
  }

  async #syncLoop(): Promise<void> {
    const { syncWaitMs } = this.#options;
    let revision: number | undefined;
    while (this.#state === 'running') {
      const started = Date.now();
      try {
        const answer = await this.#trackers.sync(this.#syncBody(), syncWaitMs, this.#abort.signal);
        if (this.#state !== 'running') return;
        this.#apply(answer);
        if (answer.sourceError !== undefined && this.#started.blocked(this.#missing)) {
          this.#trackers.reject(new Error(answer.sourceError));
        } else {
          this.#trackers.accept();
        }
        this.#pump();
        // A tracker that answers at once with nothing new is not long-polling: pace the loop.
        const idle = syncWaitMs - (Date.now() - started);
        if (answer.revision === revision && idle > 0) await sleep(idle, this.#abort.signal);
        revision = answer.revision;
      } catch (error) {
        this.#finish(asError(error));
        return;
      }
    }
  }

  #syncBody(): SyncRequest {
    const { self } = this.#deps;
    const { bucket, key, version, allowSource = true } = this.#request;
    const source = allowSource ? { source: { bucket, key, version } } : {};
    return { node: self, have: this.#have(), ...source };
  }

  /** Bitmap of the pieces in the store ('' before the layout is known and no partial). */
  #have(): string {
    const { store } = this.#deps;
    const count = this.#view?.layout.pieceCount ?? store.stat(this.taskId)?.pieceCount;
    return count === undefined ? '' : haveBitmap(count, (i) => store.hasPiece(this.taskId, i));
  }

  /** Takes in a tracker's answer (the first one sets the layout). */
  #apply(answer: SyncResponse): void {
    const { concurrency, perSource } = this.#options;
    const { self, logger } = this.#deps;
    this.#view ??= new SwarmView(answer.layout, {
      self,
      concurrency,
      perSource,
      logger,
      seedPeers: new Set(this.#request.owners.map((owner) => owner.peerId)),
    });
    if (this.#view.apply(answer) && this.#state === 'running') this.#progress();
  }

  get #started(): SwarmView {
    if (!this.#view) throw new Error(`download of task ${this.taskId} has not started`);
    return this.#view;
  }

  #pump(): void {
    if (this.#state !== 'running' || !this.#view) return;
    const view = this.#view;
    const wanted = (i: number) => view.digest(i) !== '' && this.#missing(i);
    for (const assignment of view.scheduler.assign(wanted)) {
      const fetch = this.#fetchPiece(assignment);
      this.#fetches.add(fetch);
      void fetch.finally(() => this.#fetches.delete(fetch));
    }
  }

  /** Fetches, verifies and writes one piece; never rejects. */
  async #fetchPiece(assignment: Assignment): Promise<void> {
    const { pieceSize } = this.#started.layout;
    const timeout = AbortSignal.timeout(this.#options.pieceTimeoutMs);
    const signal = AbortSignal.any([this.#abort.signal, timeout]);
    const buffer = this.#buffers.pop() ?? Buffer.allocUnsafe(pieceSize);
    try {
      await this.#fetchInto(assignment, buffer, signal);
    } finally {
      this.#buffers.push(buffer);
    }
  }

  /** The body of #fetchPiece, into a buffer it owns until this settles; never rejects. */
  async #fetchInto(assignment: Assignment, into: Buffer, signal: AbortSignal): Promise<void> {
    const { index, source } = assignment;
    const { client, self, metrics } = this.#deps;
    const { layout, scheduler } = this.#started;
    const range = pieceRange(index, layout.pieceSize, layout.contentLength);
    let data: Buffer;
    try {
      const options = { signal, peerId: self.peerId, into };
      data = await client.fetchRange(source.node.pieces, this.taskId, range, options);
    } catch (error) {
      this.#sourceFailed(assignment, error);
      return;
    }
    const partial = this.#partial;
    if (this.#state !== 'running' || !partial) {
      scheduler.released(assignment);
      return;
    }
    try {
      await partial.writePiece(index, data, this.#started.digest(index));
    } catch (error) {
      // A piece that failed its check is the source's fault; any other write error is ours
      // (disk, a closed writer, a failed whole-object check) and ends the download.
      if (error instanceof IntegrityError && this.#missing(index)) {
        this.#sourceFailed(assignment, error);
      } else {
        scheduler.released(assignment);
        this.#finish(asError(error));
      }
      return;
    }
    scheduler.landed(assignment);
    metrics?.p2pBytes?.inc(data.length);
    if (partial.isComplete) this.#finish();
    else this.#pump();
  }

  #sourceFailed(assignment: Assignment, error: unknown): void {
    const { scheduler } = this.#started;
    // Fetches we cut short ourselves (the download ended) are nobody's fault.
    if (this.#state !== 'running') {
      scheduler.released(assignment);
      return;
    }
    const { index, source } = assignment;
    const dropped = scheduler.failed(assignment);
    this.#deps.metrics?.pieceFailures?.inc();
    this.#deps.logger.warn(
      { taskId: this.taskId, peerId: source.node.peerId, piece: index, err: error },
      dropped ? 'piece source failed twice; dropped for this download' : 'piece fetch failed',
    );
    this.#pump();
  }

  #progress(): void {
    this.#armStallTimer();
    this.#notify();
  }

  #armStallTimer(): void {
    if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer);
    const ms = this.#options.stallTimeoutMs;
    this.#stallTimer = setTimeout(
      () => this.#finish(new Error(`download of task ${this.taskId} made no progress in ${ms} ms`)),
      ms,
    );
    this.#stallTimer.unref();
  }

  /** For streams: the next landing or the end; rejects when no more pieces will land. */
  #nextChange(): Promise<void> {
    if (this.#state === 'failed') return Promise.reject(this.#failure);
    if (this.#state === 'succeeded') {
      return Promise.reject(new NotFoundError(`task ${this.taskId} is no longer cached`));
    }
    return this.#changed.promise;
  }

  #notify(): void {
    const current = this.#changed;
    this.#changed = pulse();
    current.resolve();
  }

  /** Ends the download once: success without `error`. Closes the writer, then settles done. */
  #finish(error?: Error): void {
    if (this.#state === 'succeeded' || this.#state === 'failed') return;
    this.#state = error ? 'failed' : 'succeeded';
    this.#failure = error;
    this.#abort.abort(error ?? new Error('download finished'));
    if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer);
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#notify();
    void this.#settleAfterCleanup(error);
  }

  async #settleAfterCleanup(error: Error | undefined): Promise<void> {
    const { logger } = this.#deps;
    await Promise.allSettled([...this.#fetches]);
    await this.#partial
      ?.close()
      .catch((closeError) => logger.warn({ taskId: this.taskId, err: closeError }, 'close failed'));
    if (error) {
      logger.warn({ taskId: this.taskId, err: error }, 'swarm download failed');
      this.#settle.reject(error);
      return;
    }
    this.#announceComplete();
    this.#settle.resolve();
  }

  /** Best effort: tells the tracker we hold every piece (the loop announced all but the last). */
  #announceComplete(): void {
    const tracker = this.#trackers.current;
    if (!tracker || !this.#view) return;
    const signal = AbortSignal.timeout(ANNOUNCE_TIMEOUT_MS);
    this.#deps.client
      .sync(tracker.pieces, this.taskId, this.#syncBody(), signal)
      .catch((error) =>
        this.#deps.logger.debug({ taskId: this.taskId, err: error }, 'announce failed'),
      );
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** A one-shot wake-up: waiters hold `promise`; `resolve` wakes them all. */
function pulse(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

function sleep(ms: number, abort: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      abort.removeEventListener('abort', done);
      resolve();
    }
    abort.addEventListener('abort', done, { once: true });
  });
}
