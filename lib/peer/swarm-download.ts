import type { Readable } from 'node:stream';
import { ConflictError, NotFoundError } from '../core/errors.ts';
import type { Logger } from '../storage/deps.ts';
import type { PieceStore } from '../storage/piece-store.ts';
import type { P2pClient } from './p2p-client.ts';
import type { NodeRef, TaskLayout } from './p2p-protocol.ts';
import { streamLandingPieces } from './swarm-stream.ts';
import { SwarmTask } from './swarm-task.ts';
import { layoutOfTask } from './version-metadata.ts';

export { NoTrackerError, TrackersFailedError } from './swarm-trackers.ts';

export interface SwarmDeps {
  /** This daemon (its peerId and piece server URL). */
  readonly self: NodeRef;
  readonly store: PieceStore;
  readonly client: P2pClient;
  readonly logger: Logger;
  /** Pieces in flight per download (default 8) and per source (default 3). */
  readonly concurrency?: number;
  readonly perSource?: number;
  /** A piece request that takes longer counts as a failure of its source (default 30 s). */
  readonly pieceTimeoutMs?: number;
  /** Long-poll wait per sync (default 1000 ms). */
  readonly syncWaitMs?: number;
  /** A download with no progress at all (no piece landed, no digest learnt) this long fails (default 60 s). */
  readonly stallTimeoutMs?: number;
  readonly metrics?: {
    readonly p2pBytes?: { inc(n?: number): void };
    readonly pieceFailures?: { inc(n?: number): void };
  };
}

export interface SwarmRequest {
  readonly taskId: string;
  readonly bucket: string;
  readonly key: string;
  /** versionOf() of the version: md5:<hex> or etag:<etag> (sent as sync `source`). */
  readonly version: string;
  /** Tracker candidates: the task's owner seed peers in rank order. */
  readonly owners: readonly NodeRef[];
  /** Send `source` (let the owner fetch from the backend). False for a pending version, which only the cluster has. Default true. */
  readonly allowSource?: boolean;
}

export interface SwarmDownload {
  readonly taskId: string;
  /** The layout the tracker first answered (digests may still be '' then). */
  readonly layout: TaskLayout;
  /**
   * Bytes start..end inclusive (default the whole object) in order, as their pieces land;
   * errors (destroyed) when the download fails. Several streams per download are allowed;
   * destroying one does not stop the download. RangeNotSatisfiableError for a bad range.
   */
  stream(range?: { start: number; end: number }): Readable;
  /** Resolves when the task is complete in the store; rejects when the download failed. Never an unhandled rejection. */
  readonly done: Promise<void>;
  abort(reason: Error): void;
}

/**
 * Downloads tasks from the cluster (docs/P2P.md, Reads steps 2–6): a tracker found among the
 * task's owners, pieces fetched in parallel from its holders, verified and written into a
 * partial task, then streamed to readers as they land. One download per task in this process.
 */
export class SwarmDownloader {
  readonly #deps: SwarmDeps;
  readonly #running = new Map<string, { task: SwarmTask; started: Promise<SwarmDownload> }>();
  #closed = false;

  constructor(deps: SwarmDeps) {
    this.#deps = deps;
  }

  /**
   * Starts or joins (single flight per taskId in this process) the download. Resolves once a
   * tracker answered and the partial task is open. Rejects NoTrackerError when no owner
   * answered (the caller reads the backend itself); a tracker's 404/409/410 answer rejects
   * NotFoundError / ConflictError / GoneError. A task already complete in the store
   * resolves at once, with `done` resolved.
   */
  download(request: SwarmRequest): Promise<SwarmDownload> {
    if (this.#closed) return Promise.reject(new ConflictError('swarm downloader is closed'));
    const running = this.#running.get(request.taskId);
    if (running) return running.started;
    const meta = this.#deps.store.stat(request.taskId);
    if (meta?.complete) {
      const layout = layoutOfTask(meta, { bucket: request.bucket, key: request.key });
      return Promise.resolve(completeDownload(this.#deps.store, layout));
    }
    const task = new SwarmTask(this.#deps, request);
    const entry = { task, started: task.start().then(() => task) };
    this.#running.set(request.taskId, entry);
    const forget = () => {
      if (this.#running.get(request.taskId) === entry) this.#running.delete(request.taskId);
    };
    task.done.then(forget, forget);
    return entry.started;
  }

  /** Aborts the download of taskId if running (eviction, a newer version). */
  abortTask(taskId: string, reason: Error): void {
    this.#running.get(taskId)?.task.abort(reason);
  }

  /** Aborts every download and waits until their writers are closed. */
  async close(): Promise<void> {
    this.#closed = true;
    const tasks = [...this.#running.values()].map(({ task }) => task);
    for (const task of tasks) task.abort(new ConflictError('swarm downloader is closed'));
    await Promise.allSettled(tasks.map((task) => task.done));
  }
}

/** A download that found the task complete in the store. */
function completeDownload(store: PieceStore, layout: TaskLayout): SwarmDownload {
  const { taskId, contentLength, pieceSize } = layout;
  const gone = () => Promise.reject(new NotFoundError(`task ${taskId} is no longer cached`));
  return {
    taskId,
    layout,
    done: Promise.resolve(),
    stream: (range) =>
      streamLandingPieces(
        store,
        { taskId, contentLength, pieceSize, has: (i) => store.hasPiece(taskId, i), changed: gone },
        range,
      ),
    abort: () => {},
  };
}
