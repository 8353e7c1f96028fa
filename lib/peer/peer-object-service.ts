import type { ObjectService, PutUpload } from '../api/object-service.ts';
import type { ObjectBackend } from '../backends/object-backend.ts';
import { InsufficientStorageError } from '../core/errors.ts';
import { WriteMode } from '../core/write-mode.ts';
import type { Logger } from '../storage/deps.ts';
import type { WriteBackJournal } from '../storage/journal.ts';
import { asNoSpaceError, isNoSpace } from '../storage/no-space.ts';
import type { ObjectIndex } from '../storage/object-index.ts';
import type { PieceStore } from '../storage/piece-store.ts';
import type { TaskMeta } from '../storage/task-meta.ts';
import { BackToSource } from './back-to-source.ts';
import { entryFromTask, isComplete } from './cached-objects.ts';
import type { ClusterPort, PublishedVersion } from './cluster-port.ts';
import { KeyGenerations } from './key-generations.ts';
import { createObjectReader } from './object-reads.ts';
import { taskIdForDigest } from './task-ids.ts';
import { writeTaskToBackendRetrying } from './write-back.ts';

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
  /** Task-ID filter (`objectStorage.filter`, or the manager's); a request's `filter` overrides it. */
  readonly filter: () => string;
  /** Replicas per write (`objectStorage.maxReplicas`, or the manager's); a PUT's field overrides it. */
  readonly maxReplicas: () => number;
  /** The P2P cluster; absent, the daemon works alone (cache + backend). */
  readonly cluster?: ClusterPort;
  /** How long a copy waits for its source's pending write-back (ms). */
  readonly flushTimeoutMs?: number;
  readonly logger: Logger;
  readonly metrics?: PeerMetricsSink;
}

/** The peer's object service, plus what the cluster protocol asks of it. */
export interface PeerObjectService extends ObjectService {
  /**
   * Drops this daemon's versions of `bucket/key` other than `keep` (another daemon wrote or
   * deleted the key): a pending write-back of an older version, the index entry, the cached
   * tasks, and indexing by downloads still running. Resolves with the task IDs dropped.
   */
  evictLocal(bucket: string, key: string, keep: string | undefined): Promise<string[]>;
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
export function createPeerObjectService(deps: PeerObjectServiceDeps): PeerObjectService {
  const { store, index, journal, logger, cluster } = deps;
  const backToSource = new BackToSource({
    store,
    index,
    logger,
    onBytes: (n) => deps.metrics?.backToSourceBytes.inc(n),
  });
  const generations = new KeyGenerations();
  const reader = createObjectReader({
    store,
    index,
    backend: deps.backend,
    filter: deps.filter,
    backToSource,
    generations,
    cluster,
    setEntry,
    logger,
    metrics: deps.metrics,
  });

  async function evict(taskId: string | undefined): Promise<void> {
    if (taskId) await store.remove(taskId);
  }

  /** A full disk anywhere on the way (cache, journal, index) is a 507, not a 500. */
  async function put(bucket: string, key: string, upload: PutUpload): Promise<void> {
    try {
      await putInCache(bucket, key, upload);
    } catch (error) {
      throw asNoSpaceError(error);
    }
  }

  async function putInCache(bucket: string, key: string, upload: PutUpload): Promise<void> {
    const writer = await store
      .beginImport({ sizeHint: upload.sizeHint, contentType: upload.contentType, bucket, key })
      .catch(async (error: unknown) => {
        if (error instanceof InsufficientStorageError) await drainBody(upload.body);
        throw error;
      });
    let form: Awaited<ReturnType<PutUpload['form']>>;
    try {
      // Not destroyed by a failed write: see drainBody.
      await writer.write(upload.body.iterator({ destroyOnReturn: false }));
      form = await upload.form();
    } catch (error) {
      await writer.abort();
      if (isNoSpace(error) || error instanceof InsufficientStorageError) {
        await drainBody(upload.body);
      } else {
        upload.body.destroy();
      }
      throw error;
    }
    const filter = form.filter ?? deps.filter();
    const backendName = deps.backend().name;
    const { meta, unpin } = await writer.commit(
      (digest) => taskIdForDigest(backendName, bucket, key, digest, filter),
      { pin: true },
    );
    try {
      const entry = entryFromTask(meta, { lastModified: new Date().toISOString() });
      const target = { taskId: meta.taskId, bucket, key };
      const maxReplicas = form.maxReplicas ?? deps.maxReplicas();
      const replication = {
        ...target,
        filter,
        contentLength: meta.contentLength,
        maxReplicas,
      };
      switch (form.mode) {
        case WriteMode.AsyncWriteBack: {
          await journal.append({
            ...target,
            digest: entry.digest,
            contentLength: meta.contentLength,
            contentType: meta.contentType,
            mode: form.mode,
            maxReplicas,
            filter,
          });
          await setEntry(bucket, key, { ...entry, state: 'pending' });
          // Replication runs in the write-back worker, after the backend write.
          if (!upload.replica) await cluster?.publish(bucket, key, pendingVersion(meta));
          break;
        }
        case WriteMode.WriteBack: {
          // An older pending write-back of this key must not land after this write.
          await journal.cancelKey(bucket, key);
          // The key names the new version only once the backend has it: readers never see a
          // write that may still fail (the task stays pinned, unindexed, meanwhile).
          const etag = await writeTaskToBackendRetrying(
            { store, index, backend: deps.backend, logger },
            target,
          ).catch(async (error: unknown) => {
            await rejournalPending(bucket, key);
            throw error;
          });
          await setEntry(bucket, key, { ...entry, etag, state: 'durable' });
          if (!upload.replica) {
            await cluster?.publish(bucket, key, {
              taskId: meta.taskId,
              state: 'durable',
              meta: { ...meta, etag },
            });
            void cluster?.replicate(replication);
          }
          break;
        }
        case WriteMode.Ephemeral:
          await setEntry(bucket, key, { ...entry, state: 'durable' });
          // Only the cluster will ever hold it: replicas are its durability.
          if (!upload.replica) {
            await cluster?.publish(bucket, key, pendingVersion(meta));
            void cluster?.replicate(replication);
          }
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
      maxReplicas: deps.maxReplicas(),
    });
  }

  async function setEntry(bucket: string, key: string, entry: Parameters<ObjectIndex['set']>[2]) {
    const change = await index.set(bucket, key, entry);
    await evict(change.orphanedTaskId);
  }

  return {
    metadata() {
      const { name, region, endpoint } = deps.backend();
      return { name, region, endpoint };
    },
    createBucket: (bucket) => deps.backend().createBucket(bucket),
    listObjects: (bucket, options) => deps.backend().listObjects(bucket, options),

    headObject: reader.head,
    getObject: reader.get,
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
        const meta = store.stat(linked.taskId);
        const version = meta && {
          taskId: linked.taskId,
          state: 'durable' as const,
          meta: { ...meta, etag },
        };
        await cluster?.publish(bucket, destinationKey, version);
      } else {
        const change = await index.delete(bucket, destinationKey);
        await evict(change.orphanedTaskId);
        await cluster?.publish(bucket, destinationKey, undefined);
      }
    },

    async deleteObject(bucket, key) {
      await journal.cancelKey(bucket, key);
      const change = await index.delete(bucket, key);
      await evict(change.orphanedTaskId);
      await deps.backend().deleteObject(bucket, key);
      // After the backend delete: a peer that misses from now on finds nothing to re-fetch.
      await cluster?.publish(bucket, key, undefined);
    },

    async evictLocal(bucket, key, keep) {
      generations.bump(bucket, key);
      const dropped = new Set<string>();
      const current = index.get(bucket, key);
      if (current && current.taskId !== keep) {
        // A newer write elsewhere supersedes our pending one: it must not land after it.
        await journal.cancelKey(bucket, key);
        const change = await index.delete(bucket, key);
        await evict(change.orphanedTaskId);
        dropped.add(current.taskId);
      }
      // Versions held without an index entry: fetched as an owner, or still downloading.
      for (const meta of store.listTasks()) {
        if (meta.bucket !== bucket || meta.key !== key || meta.taskId === keep) continue;
        if (index.refCount(meta.taskId) > 0) continue;
        await store.remove(meta.taskId);
        dropped.add(meta.taskId);
      }
      return [...dropped];
    },
  };
}

/**
 * Reads and drops the rest of a PUT body after the disk filled up, so that the client, still
 * sending, reads the 507 instead of a reset connection (a server that answers early and closes
 * makes the client's next write fail first). Bounded: past `maxBytes` or `maxMs` the body is
 * destroyed and the client may see the reset after all.
 */
export async function drainBody(
  body: NodeJS.ReadableStream & { destroy(): void },
  maxBytes = 256 * 1024 * 1024,
  maxMs = 30_000,
): Promise<void> {
  const timer = setTimeout(() => body.destroy(), maxMs);
  let seen = 0;
  try {
    for await (const chunk of body) {
      seen += (chunk as Buffer).length;
      if (seen > maxBytes) break; // return() destroys the body
    }
  } catch {
    // The client went away or the limit was hit: nothing left to answer cleanly.
  } finally {
    clearTimeout(timer);
  }
}

function pendingVersion(meta: TaskMeta): PublishedVersion {
  return { taskId: meta.taskId, state: 'pending', meta };
}
