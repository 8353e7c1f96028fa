import type { Readable } from 'node:stream';
import type { ObjectBackend, ObjectMetadata } from '../backends/object-backend.ts';
import { formatDigest, tryParseDigest } from '../core/digest.ts';
import { BackendError, ConflictError } from '../core/errors.ts';
import { computePieceCount, computePieceSize, pieceRange } from '../core/piece-size.ts';
import type { Logger } from '../storage/deps.ts';
import type { PartialTask, PartialTaskOptions } from '../storage/partial-task.ts';
import type { PieceStore } from '../storage/piece-store.ts';
import type { TaskMeta } from '../storage/task-meta.ts';
import type { VersionMetadata } from './p2p-protocol.ts';
import { versionOf } from './task-ids.ts';
import { toVersionMetadata, versionMetadataOfTask } from './version-metadata.ts';

export interface SourceFetcherDeps {
  readonly store: PieceStore;
  /** The current backend (may change at run time). */
  readonly backend: () => ObjectBackend;
  readonly logger: Logger;
  /** Back-to-source bytes, counted as they arrive (the metric). */
  readonly onBytes?: (bytes: number) => void;
}

export interface SourceFetchRequest {
  readonly taskId: string;
  readonly bucket: string;
  readonly key: string;
  /** versionOf() (lib/peer/task-ids.ts) of the version wanted: `md5:<hex>` or `etag:<etag>`. */
  readonly version: string;
}

/** A back-to-source of one task: its layout is known, its pieces land one by one. */
export interface SourceFetch {
  readonly taskId: string;
  readonly bucket: string;
  readonly key: string;
  /** From the backend's response headers. */
  readonly metadata: VersionMetadata;
  readonly contentLength: number;
  readonly pieceSize: number;
  /** Resolves when the task is complete (and durable) in the store; rejects on failure. */
  readonly done: Promise<void>;
  /** Error message once failed, else undefined. */
  failure(): string | undefined;
}

/** The backend holds another version of the key than the one asked for. */
export class VersionChangedError extends ConflictError {
  override readonly name = 'VersionChangedError';
  override readonly code = 'ERR_VERSION_CHANGED';
}

interface Flight {
  readonly abort: AbortController;
  readonly started: Promise<SourceFetch>;
  fetch?: SourceFetch;
}

/**
 * The owner's back-to-source (docs/P2P.md, reads step 3): one backend read per task at a time,
 * whatever the number of requesters, written piece by piece into a partial task so that
 * requesters can download pieces while the owner is still reading the backend. Each piece's
 * sha256 is computed from the backend's bytes and becomes the task's digest for that piece.
 * A failed fetch removes its task (no half task lingers) and leaves no trace here, so the next
 * fetch() retries; an aborted one (close) keeps it on disk, resumable.
 */
export class SourceFetcher {
  readonly #deps: SourceFetcherDeps;
  readonly #flights = new Map<string, Flight>();
  #closed = false;

  constructor(deps: SourceFetcherDeps) {
    this.#deps = deps;
  }

  /**
   * Starts, or joins, the fetch of `taskId` from the backend. Resolves once the backend's
   * response headers arrived and the partial task exists in the store (its layout is
   * `store.stat(taskId)`, digests '' until each piece lands). A task the store holds complete
   * resolves at once with `done` resolved, without a backend request. Rejects with the
   * backend's NotFoundError when the object is gone, VersionChangedError when the backend's
   * version is not `request.version` (nothing stored).
   */
  async fetch(request: SourceFetchRequest): Promise<SourceFetch> {
    if (this.#closed) throw new ConflictError('the source fetcher is closed');
    const meta = this.#deps.store.stat(request.taskId);
    if (meta?.complete) return completedFetch(request, meta);
    const running = this.#flights.get(request.taskId);
    if (running) return running.started;
    const abort = new AbortController();
    const flight: Flight = { abort, started: this.#start(request, abort.signal) };
    this.#flights.set(request.taskId, flight);
    const forget = () => {
      if (this.#flights.get(request.taskId) === flight) this.#flights.delete(request.taskId);
    };
    // Registered before any caller's await: inFlight() knows the fetch once fetch() resolves.
    flight.started.then((fetch) => {
      flight.fetch = fetch;
      fetch.done.then(forget, forget);
    }, forget);
    return flight.started;
  }

  /** The fetch in progress for `taskId` (headers received, not yet settled), if any. */
  inFlight(taskId: string): SourceFetch | undefined {
    return this.#flights.get(taskId)?.fetch;
  }

  /** Aborts every fetch (daemon shutdown); their partial tasks stay resumable on disk. */
  async close(): Promise<void> {
    this.#closed = true;
    const flights = [...this.#flights.values()];
    for (const flight of flights) flight.abort.abort();
    await Promise.allSettled(flights.map((flight) => flight.started.then((f) => f.done)));
  }

  async #start(request: SourceFetchRequest, signal: AbortSignal): Promise<SourceFetch> {
    const { taskId, bucket, key } = request;
    const got = await this.#deps.backend().getObject(bucket, key, { signal });
    let partial: PartialTask;
    try {
      signal.throwIfAborted();
      const version = versionOf(got.metadata);
      if (version !== request.version) {
        throw new VersionChangedError(
          `${bucket}/${key} is at version ${version}, not ${request.version}`,
        );
      }
      partial = await this.#deps.store.openPartial(taskId, partialOptions(request, got.metadata));
    } catch (error) {
      got.body.destroy();
      throw error;
    }
    let failure: string | undefined;
    const done = this.#run(partial, got.body, signal, (error) => {
      failure = error instanceof Error ? error.message : String(error);
    });
    done.catch(() => {}); // Callers may never look at `done`.
    return {
      taskId,
      bucket,
      key,
      metadata: toVersionMetadata(got.metadata),
      contentLength: partial.contentLength,
      pieceSize: partial.pieceSize,
      done,
      failure: () => failure,
    };
  }

  /** Pumps the body into the task, then closes the writer; a failure removes the task. */
  async #run(
    partial: PartialTask,
    body: Readable,
    signal: AbortSignal,
    onFailure: (error: unknown) => void,
  ): Promise<void> {
    const { store, logger } = this.#deps;
    const { taskId } = partial;
    const abort = () => body.destroy(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    if (signal.aborted) abort(); // close() came while the task was being opened
    try {
      await this.#pump(partial, body);
    } catch (error) {
      onFailure(error);
      body.destroy();
      await partial.close();
      if (signal.aborted) {
        logger.info({ taskId }, 'back-to-source aborted; the partial task stays');
      } else {
        logger.warn({ err: error, taskId }, 'back-to-source failed; removing the task');
        await store
          .remove(taskId)
          .catch((err) => logger.error({ err, taskId }, 'could not remove a failed task'));
      }
      throw error;
    } finally {
      signal.removeEventListener('abort', abort);
    }
    await partial.close();
  }

  /**
   * Cuts the body into pieces, exactly pieceSize bytes each (the last one shorter), and writes
   * each with its sha256. One reused piece buffer; the body waits while a piece is written.
   */
  async #pump(partial: PartialTask, body: Readable): Promise<void> {
    const { contentLength, pieceSize } = partial;
    const buffer = Buffer.allocUnsafe(Math.min(pieceSize, contentLength));
    let index = 0;
    let filled = 0;
    let received = 0;
    read: for await (const chunk of body as AsyncIterable<Buffer>) {
      this.#deps.onBytes?.(chunk.length);
      received += chunk.length;
      if (received > contentLength) {
        throw new BackendError(`the backend sent more than the ${contentLength} bytes announced`);
      }
      let offset = 0;
      while (offset < chunk.length) {
        // An import of the same task, or peers, completed it: nothing left to write.
        if (partial.isComplete) break read;
        const { length } = pieceRange(index, pieceSize, contentLength);
        let piece: Buffer;
        if (filled === 0 && chunk.length - offset >= length) {
          piece = chunk.subarray(offset, offset + length); // the whole piece: no copy
          offset += length;
        } else {
          const end = Math.min(chunk.length, offset + length - filled);
          filled += chunk.copy(buffer, filled, offset, end);
          offset = end;
          if (filled < length) continue;
          piece = buffer.subarray(0, length);
        }
        await partial.writeSourcePiece(index, piece);
        index++;
        filled = 0;
      }
    }
    if (!partial.isComplete) {
      throw new BackendError(`the backend body ended after ${received} of ${contentLength} bytes`);
    }
  }
}

/** The partial task's layout (digests unknown) and metadata, from the backend's headers. */
function partialOptions(request: SourceFetchRequest, metadata: ObjectMetadata): PartialTaskOptions {
  const { contentLength } = metadata;
  const pieceSize = computePieceSize(contentLength);
  const version = tryParseDigest(request.version);
  return {
    contentLength,
    pieceSize,
    pieceDigests: new Array<string>(computePieceCount(contentLength, pieceSize)).fill(''),
    // Only an md5 version is the whole object's digest: the store checks it on completion.
    digest: version?.algorithm === 'md5' ? formatDigest('md5', version.hex) : undefined,
    contentType: metadata.contentType,
    contentDisposition: metadata.contentDisposition,
    contentEncoding: metadata.contentEncoding,
    contentLanguage: metadata.contentLanguage,
    etag: metadata.etag,
    lastModified: metadata.lastModified.toISOString(),
    bucket: request.bucket,
    key: request.key,
  };
}

function completedFetch(request: SourceFetchRequest, meta: TaskMeta): SourceFetch {
  return {
    taskId: meta.taskId,
    bucket: request.bucket,
    key: request.key,
    metadata: versionMetadataOfTask(meta),
    contentLength: meta.contentLength,
    pieceSize: meta.pieceSize,
    done: Promise.resolve(),
    failure: () => undefined,
  };
}
