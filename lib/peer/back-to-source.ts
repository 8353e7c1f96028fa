import { PassThrough, type Readable } from 'node:stream';
import type { ObjectBackend, ObjectMetadata } from '../backends/object-backend.ts';
import { tryParseDigest } from '../core/digest.ts';
import type { Logger } from '../storage/deps.ts';
import type { ObjectIndex } from '../storage/object-index.ts';
import type { PieceStore } from '../storage/piece-store.ts';
import { entryFromTask } from './cached-objects.ts';

export interface BackToSourceDeps {
  readonly store: PieceStore;
  readonly index: ObjectIndex;
  readonly logger: Logger;
  readonly onBytes?: (bytes: number) => void;
}

/**
 * Imports object versions from the backend into the cache, once per task at a time in this
 * process (single flight): concurrent misses of one version share one backend read.
 */
export class BackToSource {
  readonly #deps: BackToSourceDeps;
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(deps: BackToSourceDeps) {
    this.#deps = deps;
  }

  /** The import of `taskId` in progress, if any. */
  inFlight(taskId: string): Promise<void> | undefined {
    return this.#inFlight.get(taskId);
  }

  /**
   * Streams the whole object from the backend into the cache and, through the returned
   * stream, to one client at the same time. The client may go away; the import goes on.
   * The version becomes the index entry of `bucket/key` once committed.
   */
  async teeFromBackend(
    backend: ObjectBackend,
    bucket: string,
    key: string,
    taskId: string,
  ): Promise<{ metadata: ObjectMetadata; body: PassThrough }> {
    const got = await backend.getObject(bucket, key);
    const toClient = new PassThrough();
    // Both branches attach before the first await, so neither misses a chunk.
    const done = this.#import(got.metadata, got.body, bucket, key, taskId);
    got.body.on('error', (error) => toClient.destroy(error));
    got.body.pipe(toClient);
    this.#track(taskId, done);
    return { metadata: got.metadata, body: toClient };
  }

  /** Starts (or joins) a background import of the current backend version of `bucket/key`. */
  warm(backend: ObjectBackend, bucket: string, key: string, taskId: string): Promise<void> {
    const running = this.#inFlight.get(taskId);
    if (running) return running;
    const done = backend.getObject(bucket, key).then((got) =>
      this.#import(got.metadata, got.body, bucket, key, taskId).catch((error: unknown) => {
        got.body.destroy(); // nobody else reads it: release the backend connection
        throw error;
      }),
    );
    this.#track(taskId, done);
    return done;
  }

  async #import(
    metadata: ObjectMetadata,
    body: Readable,
    bucket: string,
    key: string,
    taskId: string,
  ): Promise<void> {
    const { store, index, logger, onBytes } = this.#deps;
    const toCache = new PassThrough();
    // The store opens the import only after an await: a backend body that breaks before then
    // (a connection reset) must not be an uncaught 'error' that kills the daemon. The error is
    // kept by the stream and thrown by writer.write() when it starts reading.
    toCache.on('error', () => {});
    body.on('data', (chunk: Buffer) => onBytes?.(chunk.length));
    body.on('error', (error) => toCache.destroy(error));
    body.pipe(toCache);
    const digest = metadata.digest && tryParseDigest(metadata.digest) ? metadata.digest : undefined;
    try {
      const writer = await store.beginImport({
        sizeHint: metadata.contentLength,
        expectedDigest: digest,
        contentType: metadata.contentType,
        contentDisposition: metadata.contentDisposition,
        contentEncoding: metadata.contentEncoding,
        contentLanguage: metadata.contentLanguage,
        etag: metadata.etag,
        lastModified: metadata.lastModified.toISOString(),
        bucket,
        key,
      });
      await writer.write(toCache);
      const { meta } = await writer.commit(() => taskId);
      const current = index.get(bucket, key);
      // A local write that landed meanwhile is newer than what we read: leave it.
      if (current?.state !== 'pending') {
        await index.set(
          bucket,
          key,
          entryFromTask(meta, { etag: metadata.etag, state: 'durable' }),
        );
      }
    } catch (error) {
      // The cache gave up (a full disk, say): a tee's client branch must keep flowing, and an
      // unread cache branch would hold the backend body back once its buffer is full.
      body.unpipe(toCache);
      toCache.destroy();
      logger.warn({ err: error, taskId, bucket }, 'back-to-source import failed');
      throw error;
    }
  }

  #track(taskId: string, done: Promise<void>): void {
    const tracked = done.finally(() => this.#inFlight.delete(taskId));
    tracked.catch(() => {});
    this.#inFlight.set(taskId, tracked);
  }
}
