import type { ServiceGetOptions, ServiceGetResult } from '../api/object-service.ts';
import type { ObjectBackend, ObjectMetadata } from '../backends/object-backend.ts';
import { ObjectNotFoundError } from '../core/errors.ts';
import { DEFAULT_STORAGE_CLASS } from '../core/headers.ts';
import { resolveRange } from '../core/range.ts';
import type { Logger } from '../storage/deps.ts';
import type { IndexEntry, ObjectIndex } from '../storage/object-index.ts';
import type { PieceStore } from '../storage/piece-store.ts';
import type { BackToSource } from './back-to-source.ts';
import { entryFromTask, entryMetadata, isComplete, readCached } from './cached-objects.ts';
import type { ClusterPort } from './cluster-port.ts';
import type { KeyGenerations } from './key-generations.ts';
import type { PeerMetricsSink } from './peer-object-service.ts';
import { NoTrackerError } from './swarm-download.ts';
import { taskIdForDigest, versionOf } from './task-ids.ts';
import { fromVersionMetadata } from './version-metadata.ts';

export interface ObjectReaderDeps {
  readonly store: PieceStore;
  readonly index: ObjectIndex;
  readonly backend: () => ObjectBackend;
  readonly filter: () => string;
  readonly backToSource: BackToSource;
  readonly generations: KeyGenerations;
  readonly cluster?: ClusterPort;
  /** Sets the key's index entry and evicts the task it replaced. */
  readonly setEntry: (bucket: string, key: string, entry: IndexEntry) => Promise<void>;
  readonly logger: Logger;
  readonly metrics?: PeerMetricsSink;
}

/** The version of a key a read resolved: the cluster's pending one or the backend's. */
interface Version {
  readonly taskId: string;
  readonly metadata: ObjectMetadata;
  /** versionOf(): `md5:<hex>` or `etag:<etag>`. */
  readonly version: string;
  /** Only the cluster holds it; `fallback` is the backend's version, if any. */
  readonly pending: boolean;
  readonly fallback?: ObjectMetadata;
}

/**
 * Reads (DESIGN.md §4): the key's indexed version from the cache; otherwise the current version
 * (a pending cluster-held one wins over the backend's) from the cache, else from the swarm (the
 * task's owners track holders and fetch from the backend once for the whole cluster), else,
 * when no owner answers, from the backend directly.
 */
export function createObjectReader(deps: ObjectReaderDeps) {
  const { store, index, logger, cluster } = deps;

  async function resolve(bucket: string, key: string, filter: string): Promise<Version> {
    const backend = deps.backend();
    const [head, pending] = await Promise.all([
      backend.headObject(bucket, key).then(
        (metadata) => ({ metadata }),
        (error: unknown) => ({ error }),
      ),
      cluster?.hasSeedPeers() ? cluster.pendingVersion(bucket, key) : undefined,
    ]);
    const fallback = 'metadata' in head ? head.metadata : undefined;
    if (pending) {
      const metadata = fromVersionMetadata(key, pending.metadata);
      return {
        taskId: pending.taskId,
        metadata,
        version: versionOf(metadata),
        pending: true,
        fallback,
      };
    }
    if (!fallback) throw (head as { error: unknown }).error;
    return backendVersion(backend, bucket, key, fallback, filter);
  }

  function backendVersion(
    backend: ObjectBackend,
    bucket: string,
    key: string,
    metadata: ObjectMetadata,
    filter: string,
  ): Version {
    const version = versionOf(metadata);
    const taskId = taskIdForDigest(backend.name, bucket, key, version, filter);
    const withClass = { ...metadata, storageClass: metadata.storageClass || DEFAULT_STORAGE_CLASS };
    return { taskId, metadata: withClass, version, pending: false };
  }

  /** Serves a version the store holds complete, making it the key's index entry. */
  async function serveHeld(
    bucket: string,
    key: string,
    current: Version,
    options: ServiceGetOptions,
  ): Promise<ServiceGetResult | undefined> {
    const meta = store.stat(current.taskId);
    if (!meta?.complete) return undefined;
    deps.metrics?.cacheHits.inc();
    const entry = entryFromTask(meta, indexOverrides(current));
    await deps.setEntry(bucket, key, entry);
    return readCached(store, key, entry, options.range);
  }

  async function fromSwarm(
    bucket: string,
    key: string,
    current: Version,
    options: ServiceGetOptions,
  ): Promise<ServiceGetResult> {
    const swarm = cluster as ClusterPort;
    const generation = deps.generations.current(bucket, key);
    const download = await swarm.download({
      taskId: current.taskId,
      bucket,
      key,
      version: current.version,
      owners: swarm.owners(current.taskId),
      allowSource: !current.pending,
    });
    download.done.then(
      () => indexDownloaded(bucket, key, current, generation),
      (error: unknown) =>
        logger.warn({ err: error, taskId: current.taskId, bucket }, 'swarm download failed'),
    );
    const range = options.range
      ? resolveRange(options.range, current.metadata.contentLength)
      : undefined;
    const body = download.stream(range ? { start: range.start, end: range.end } : undefined);
    return { metadata: current.metadata, body, range };
  }

  /** A finished download becomes the key's entry unless the key changed meanwhile. */
  async function indexDownloaded(
    bucket: string,
    key: string,
    current: Version,
    generation: number,
  ): Promise<void> {
    if (deps.generations.current(bucket, key) !== generation) return;
    const existing = index.get(bucket, key);
    if (existing?.state === 'pending' && existing.taskId !== current.taskId) return;
    const meta = store.stat(current.taskId);
    if (!meta?.complete) return;
    await deps.setEntry(bucket, key, entryFromTask(meta, indexOverrides(current)));
  }

  /** The backend path of a miss: this peer reads the backend itself (single flight locally). */
  async function fromBackend(
    bucket: string,
    key: string,
    current: Version,
    options: ServiceGetOptions,
  ): Promise<ServiceGetResult> {
    const backend = deps.backend();
    const { backToSource } = deps;
    const running = backToSource.inFlight(current.taskId);
    if (running && !options.range) {
      // A shared import that failed (a backend fault) is no answer: read afresh below.
      await running.catch(() => {});
      const entry = index.get(bucket, key);
      if (entry?.taskId === current.taskId && isComplete(store, current.taskId)) {
        return readCached(store, key, entry, undefined);
      }
    }
    if (options.range) {
      backToSource.warm(backend, bucket, key, current.taskId).catch(() => {});
      return backend.getObject(bucket, key, { range: options.range, signal: options.signal });
    }
    return backToSource.teeFromBackend(backend, bucket, key, current.taskId);
  }

  async function get(
    bucket: string,
    key: string,
    options: ServiceGetOptions,
  ): Promise<ServiceGetResult> {
    const cached = index.get(bucket, key);
    if (cached && isComplete(store, cached.taskId)) {
      deps.metrics?.cacheHits.inc();
      return readCached(store, key, cached, options.range);
    }
    const filter = options.filter ?? deps.filter();
    let current = await resolve(bucket, key, filter);
    const held = await serveHeld(bucket, key, current, options);
    if (held) return held;
    deps.metrics?.cacheMisses.inc();
    if (cluster?.hasSeedPeers()) {
      try {
        return await fromSwarm(bucket, key, current, options);
      } catch (error) {
        if (current.pending && current.fallback) {
          // The cluster-held version is out of reach (its writer is gone): the backend's
          // version is the best there is until the writer's write-back lands.
          logger.warn(
            { err: error, taskId: current.taskId, bucket },
            'pending version unreachable; reading the backend version',
          );
          current = backendVersion(deps.backend(), bucket, key, current.fallback, filter);
          const fallbackHeld = await serveHeld(bucket, key, current, options);
          if (fallbackHeld) return fallbackHeld;
          return fromBackendOrSwarm(bucket, key, current, options);
        }
        if (!(error instanceof NoTrackerError)) throw error;
        logger.warn(
          { taskId: current.taskId, bucket },
          'no owner seed peer answered; reading the backend',
        );
      }
    }
    // A pending version nobody can serve, and no backend version to fall back to.
    if (current.pending) throw new ObjectNotFoundError(bucket, key);
    return fromBackend(bucket, key, current, options);
  }

  async function fromBackendOrSwarm(
    bucket: string,
    key: string,
    current: Version,
    options: ServiceGetOptions,
  ): Promise<ServiceGetResult> {
    try {
      return await fromSwarm(bucket, key, current, options);
    } catch (error) {
      if (!(error instanceof NoTrackerError)) throw error;
      return fromBackend(bucket, key, current, options);
    }
  }

  async function head(bucket: string, key: string): Promise<ObjectMetadata> {
    const cached = index.get(bucket, key);
    if (cached && isComplete(store, cached.taskId)) return entryMetadata(key, cached);
    return (await resolve(bucket, key, deps.filter())).metadata;
  }

  return { get, head };
}

/** Index fields from the version's metadata (a task downloaded from peers carries them too). */
function indexOverrides(current: Version): Partial<IndexEntry> {
  return {
    etag: current.metadata.etag,
    lastModified: current.metadata.lastModified.toISOString(),
    state: 'durable',
  };
}
