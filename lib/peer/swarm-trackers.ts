import { ConflictError, GoneError, NotFoundError } from '../core/errors.ts';
import type { Logger } from '../storage/deps.ts';
import { type P2pClient, P2pHttpError } from './p2p-client.ts';
import type { NodeRef, SyncRequest, SyncResponse } from './p2p-protocol.ts';

/** No owner answered the first sync (all unreachable / 5xx): the caller goes to the backend itself. */
export class NoTrackerError extends Error {
  override readonly name = 'NoTrackerError';
}

/** Every owner failed in a row after one had answered: the download cannot go on. */
export class TrackersFailedError extends Error {
  override readonly name = 'TrackersFailedError';
}

/**
 * The trackers of one download: the task's owners in rank order. Sticks to the one that
 * answered; on a failure (connection error, timeout, 5xx, or an answer the download rejects)
 * moves to the next, wrapping around, and gives up once every owner failed in a row.
 */
export class Trackers {
  readonly #owners: readonly NodeRef[];
  readonly #client: P2pClient;
  readonly #taskId: string;
  readonly #logger: Logger;
  #current = 0;
  /** The revision the current tracker last answered (revisions are per tracker). */
  #revision?: number;
  #failedInRow = 0;
  #accepted = false;

  constructor(owners: readonly NodeRef[], client: P2pClient, taskId: string, logger: Logger) {
    this.#owners = owners;
    this.#client = client;
    this.#taskId = taskId;
    this.#logger = logger;
  }

  get current(): NodeRef | undefined {
    return this.#owners[this.#current];
  }

  /**
   * Syncs with the current tracker, long-polling (`since` + `waitMs`) once it has answered,
   * and fails over on errors. Throws NoTrackerError (nobody answered yet) or
   * TrackersFailedError when every owner failed in a row; before any answer was accepted a
   * 404/409/410 throws NotFoundError / ConflictError / GoneError.
   */
  async sync(body: SyncRequest, waitMs: number, signal: AbortSignal): Promise<SyncResponse> {
    for (;;) {
      const owner = this.#owners[this.#current];
      if (!owner) throw new NoTrackerError(`task ${this.#taskId} has no owners`);
      const request =
        this.#revision !== undefined && waitMs > 0
          ? { ...body, since: this.#revision, waitMs }
          : body;
      try {
        const answer = await this.#client.sync(owner.pieces, this.#taskId, request, signal);
        this.#revision = answer.revision;
        return answer;
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        const fatal = this.#fatal(error);
        if (fatal) throw fatal;
        this.reject(error);
      }
    }
  }

  /** The last answer was usable: the failure count starts over. */
  accept(): void {
    this.#failedInRow = 0;
    this.#accepted = true;
  }

  /** The current tracker failed (or its answer is useless): move to the next owner. */
  reject(reason: unknown): void {
    const owner = this.#owners[this.#current];
    this.#logger.warn(
      { taskId: this.#taskId, tracker: owner?.peerId, err: reason },
      'tracker failed; trying the next owner',
    );
    this.#failedInRow++;
    this.#revision = undefined;
    if (this.#failedInRow >= this.#owners.length) {
      const message = `every owner of task ${this.#taskId} failed`;
      throw this.#accepted
        ? new TrackersFailedError(message, { cause: reason })
        : new NoTrackerError(message, { cause: reason });
    }
    this.#current = (this.#current + 1) % this.#owners.length;
  }

  /**
   * A tracker's answer that ends the download, or undefined for a failure of that tracker.
   * Mid-download a 404 counts as a failure: the tracker may have restarted and lost the task.
   */
  #fatal(error: unknown): Error | undefined {
    if (!(error instanceof P2pHttpError)) return undefined;
    const { status, message } = error;
    if (status >= 500 || status === 408 || status === 429) return undefined;
    if (status === 404)
      return this.#accepted ? undefined : new NotFoundError(message, { cause: error });
    if (status === 409) return new ConflictError(message, { cause: error });
    if (status === 410) return new GoneError(message, { cause: error });
    return error;
  }
}
