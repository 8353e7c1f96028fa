import type { ObjectService, PutUpload, ServiceGetResult } from '../api/object-service.ts';
import type { ObjectBackend, ObjectMetadata } from '../backends/object-backend.ts';
import { DEFAULT_STORAGE_CLASS } from '../core/headers.ts';
import { WriteMode } from '../core/write-mode.ts';
import type { Logger } from '../storage/deps.ts';
import type { WriteBackJournal } from '../storage/journal.ts';
import type { ObjectIndex } from '../storage/object-index.ts';
import type { PieceStore } from '../storage/piece-store.ts';
import { BackToSource } from './back-to-source.ts';
import { entryFromTask, entryMetadata, isComplete, readCached } from './cached-objects.ts';
import { taskIdForDigest, versionOf } from './task-ids.ts';
import { writeTaskToBackend } from './write-back.ts';

export interface PeerMetricsSink {
  readonly cacheHits: { inc(value?: number): void };
  readonly cacheMisses: { inc(value?: number): void };
  readonly backToSourceBytes: { inc(value?: number): void };
}

export interface PeerObjectServiceDeps {
  readonly store: PieceStore;
  readonly index: ObjectIndex;
  readonly journal: WriteBackJournal;
  /** The current backend (the manager may swap it at run time). */
  readonly backend: () => ObjectBackend;
  /** Task-ID filter (`objectStorage.filter`); a request's `filter` overrides it. */
  readonly filter: string;
  readonly maxReplicas: number;
  /** How long a copy waits for its source's pending write-back (ms). */
  readonly flushTimeoutMs?: number;
  readonly logger: Logger;
  readonly metrics?: PeerMetricsSink;
}

/**
 * The peer's object service (PROTOCOL.md §2–§4, DESIGN.md §2–§4):
 * - PUT streams the file into the piece store (md5 + piece sha256 in one pass), then by mode:
 *   0 journals the write-back (fsynced) before the ack, 1 writes the backend before the ack,
 *   2 caches only. The key's index entry then names the new task (read-your-writes).
 * - GET/HEAD serve the key's indexed version from the cache; otherwise they ask the backend for
 *   its current version and serve it from the cache when held, else fetch it once (teeing the
 *   bytes into the cache). Range misses are proxied and warm the cache in the background.
 * - DELETE cancels pending write-backs, evicts the cached version, then deletes in the backend.
 */
export function createPeerObjectService(deps: PeerObjectServiceDeps): ObjectService {
  const { store, index, journal, logger } = deps;
  const backToSource = new BackToSource({
    store,
    index,
    logger,
    onBytes: (n) => deps.metrics?.backToSourceBytes.inc(n),
  });

  async function evict(taskId: string | undefined): Promise<void> {
    if (taskId) await store.remove(taskId);
  }

  async function put(bucket: string, key: string, upload: PutUpload): Promise<void> {
    const writer = await store.beginImport({
      sizeHint: upload.sizeHint,
      contentType: upload.contentType,
      bucket,
      key,
    });
    let form: Awaited<ReturnType<PutUpload['form']>>;
    try {
      await writer.write(upload.body);
      form = await upload.form();
    } catch (error) {
      await writer.abort();
      throw error;
    }
    const filter = form.filter ?? deps.filter;
    const backendName = deps.backend().name;
    const { meta, unpin } = await writer.commit(
      (digest) => taskIdForDigest(backendName, bucket, key, digest, filter),
      { pin: true },
    );
    try {
      const entry = entryFromTask(meta, { lastModified: new Date().toISOString() });
      const target = { taskId: meta.taskId, bucket, key };
      switch (form.mode) {
        case WriteMode.AsyncWriteBack: {
          await journal.append({
            ...target,
            digest: entry.digest,
            contentLength: meta.contentLength,
            contentType: meta.contentType,
            mode: form.mode,
            maxReplicas: form.maxReplicas ?? deps.maxReplicas,
          });
          await setEntry(bucket, key, { ...entry, state: 'pending' });
          break;
        }
        case WriteMode.WriteBack: {
          // An older pending write-back of this key must not land after this write.
          await journal.cancelKey(bucket, key);
          // The key names the new version only once the backend has it: readers never see a
          // write that may still fail (the task stays pinned, unindexed, meanwhile).
          const etag = await writeTaskToBackend(
            { store, index, backend: deps.backend, logger },
            target,
          ).catch(async (error: unknown) => {
            await rejournalPending(bucket, key);
            throw error;
          });
          await setEntry(bucket, key, { ...entry, etag, state: 'durable' });
          break;
        }
        case WriteMode.Ephemeral:
          await setEntry(bucket, key, { ...entry, state: 'durable' });
          break;
      }
    } finally {
      unpin?.();
    }
  }

  /**
   * A failed WriteBack cancelled the key's pending write-back above; the acknowledged version it
   * carried is still the key's current one, so it must still reach the backend.
   */
  async function rejournalPending(bucket: string, key: string): Promise<void> {
    const current = index.get(bucket, key);
    if (current?.state !== 'pending') return;
    await journal.append({
      taskId: current.taskId,
      bucket,
      key,
      digest: current.digest,
      contentLength: current.contentLength,
      contentType: current.contentType,
      mode: WriteMode.AsyncWriteBack,
      maxReplicas: deps.maxReplicas,
    });
  }

  async function setEntry(bucket: string, key: string, entry: Parameters<ObjectIndex['set']>[2]) {
    const change = await index.set(bucket, key, entry);
    await evict(change.orphanedTaskId);
  }

  async function get(
    bucket: string,
    key: string,
    options: Parameters<ObjectService['getObject']>[2],
  ): Promise<ServiceGetResult> {
    const cached = index.get(bucket, key);
    if (cached && isComplete(store, cached.taskId)) {
      deps.metrics?.cacheHits.inc();
      return readCached(store, key, cached, options.range);
    }
    const backend = deps.backend();
    const current = await backend.headObject(bucket, key);
    const filter = options.filter ?? deps.filter;
    const taskId = taskIdForDigest(backend.name, bucket, key, versionOf(current), filter);
    if (isComplete(store, taskId)) {
      deps.metrics?.cacheHits.inc();
      const meta = store.stat(taskId);
      const entry = meta
        ? entryFromTask(meta, { etag: current.etag, state: 'durable' })
        : undefined;
      if (entry) {
        await setEntry(bucket, key, entry);
        return readCached(store, key, entry, options.range);
      }
    }
    deps.metrics?.cacheMisses.inc();
    const running = backToSource.inFlight(taskId);
    if (running && !options.range) {
      await running;
      const entry = index.get(bucket, key);
      if (entry?.taskId === taskId && isComplete(store, taskId)) {
        return readCached(store, key, entry, undefined);
      }
    }
    if (options.range) {
      backToSource.warm(backend, bucket, key, taskId).catch(() => {});
      return backend.getObject(bucket, key, { range: options.range, signal: options.signal });
    }
    return backToSource.teeFromBackend(backend, bucket, key, taskId);
  }

  return {
    metadata() {
      const { name, region, endpoint } = deps.backend();
      return { name, region, endpoint };
    },
    createBucket: (bucket) => deps.backend().createBucket(bucket),
    listObjects: (bucket, options) => deps.backend().listObjects(bucket, options),

    async headObject(bucket, key): Promise<ObjectMetadata> {
      const cached = index.get(bucket, key);
      if (cached && isComplete(store, cached.taskId)) return entryMetadata(key, cached);
      const metadata = await deps.backend().headObject(bucket, key);
      return { ...metadata, storageClass: metadata.storageClass || DEFAULT_STORAGE_CLASS };
    },

    getObject: get,
    putObject: put,

    async copyObject(bucket, sourceKey, destinationKey) {
      const source = index.get(bucket, sourceKey);
      if (source?.state === 'pending') {
        // The backend copies what it has: land the source's pending write-back first.
        await journal.flushKey(bucket, sourceKey, {
          signal: AbortSignal.timeout(deps.flushTimeoutMs ?? 60_000),
        });
      }
      await journal.cancelKey(bucket, destinationKey);
      const { etag } = await deps.backend().copyObject(bucket, sourceKey, destinationKey);
      const linked = index.get(bucket, sourceKey);
      if (linked && isComplete(store, linked.taskId)) {
        const change = await index.copy(bucket, sourceKey, destinationKey, {
          etag,
          state: 'durable',
        });
        await evict(change.orphanedTaskId);
      } else {
        const change = await index.delete(bucket, destinationKey);
        await evict(change.orphanedTaskId);
      }
    },

    async deleteObject(bucket, key) {
      await journal.cancelKey(bucket, key);
      const change = await index.delete(bucket, key);
      await evict(change.orphanedTaskId);
      await deps.backend().deleteObject(bucket, key);
    },
  };
}
