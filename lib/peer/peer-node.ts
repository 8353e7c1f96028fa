import type { ObjectBackend } from '../backends/object-backend.ts';
import type { BackoffPolicy } from '../storage/backoff.ts';
import { type Logger, noopLogger } from '../storage/deps.ts';
import { openWriteBackJournal, type WriteBackJournal } from '../storage/journal.ts';
import type { JournalEntry } from '../storage/journal-files.ts';
import { type ObjectIndex, openObjectIndex } from '../storage/object-index.ts';
import { openPieceStore, type PieceStore } from '../storage/piece-store.ts';
import type { ClusterPort } from './cluster-port.ts';
import {
  createPeerObjectService,
  type PeerMetricsSink,
  type PeerObjectService,
} from './peer-object-service.ts';
import { createWriteBackHandler } from './write-back.ts';

export type { PeerMetricsSink } from './peer-object-service.ts';

export interface PeerNodeOptions {
  readonly dataDir: string;
  /** Bytes of cache (`storage.capacity`); unbounded when absent. */
  readonly capacity?: number;
  readonly backend: ObjectBackend;
  /** `objectStorage.filter` (or the manager's, read per request). */
  readonly filter: string | (() => string);
  /** `objectStorage.maxReplicas` (or the manager's, read per request). */
  readonly maxReplicas: number | (() => number);
  /** The P2P cluster; absent, the node works alone (cache + backend). */
  readonly cluster?: ClusterPort;
  /** A piece of a task was written (the tracker's own pieces). */
  readonly onPiece?: (taskId: string, index: number) => void;
  readonly logger?: Logger;
  readonly metrics?: PeerMetricsSink;
  /** Write-backs running at once (default 4). */
  readonly writeBackConcurrency?: number;
  /** Retry backoff of failed write-backs (default 1 s base, full jitter). */
  readonly writeBackBackoff?: BackoffPolicy;
}

export interface PeerNode {
  readonly service: PeerObjectService;
  readonly store: PieceStore;
  readonly index: ObjectIndex;
  readonly journal: WriteBackJournal;
  /** Swaps the backend (a changed config from the manager); pending write-backs use the new one. */
  setBackend(backend: ObjectBackend): void;
  /** The backend in use now. */
  backend(): ObjectBackend;
  /** Finishes running write-backs (pending ones stay journaled) and closes storage. */
  close(): Promise<void>;
}

/**
 * Opens a peer's storage and object service under `dataDir`. Order matters: the store first
 * (recovery), then the index, then the journal, which re-pins the tasks of pending write-backs
 * before any new write can trigger eviction.
 */
export async function openPeerNode(options: PeerNodeOptions): Promise<PeerNode> {
  const logger = options.logger ?? noopLogger;
  const { cluster } = options;
  let backend = options.backend;
  const filter = options.filter;
  const maxReplicas = options.maxReplicas;
  const store = await openPieceStore({
    dataDir: options.dataDir,
    capacity: options.capacity,
    onPiece: options.onPiece,
    logger,
  });
  const index = await openObjectIndex({ dataDir: options.dataDir, logger });
  const journal = await openWriteBackJournal({
    dataDir: options.dataDir,
    handler: createWriteBackHandler({
      store,
      index,
      backend: () => backend,
      logger,
      afterWrite: cluster && ((entry, etag) => afterWriteBack(cluster, store, entry, etag)),
    }),
    pin: (taskId) => store.pin(taskId),
    concurrency: options.writeBackConcurrency,
    backoff: options.writeBackBackoff,
    logger,
  });
  const service = createPeerObjectService({
    store,
    index,
    journal,
    backend: () => backend,
    filter: typeof filter === 'string' ? () => filter : filter,
    maxReplicas: typeof maxReplicas === 'number' ? () => maxReplicas : maxReplicas,
    cluster,
    logger,
    metrics: options.metrics,
  });
  return {
    service,
    store,
    index,
    journal,
    backend: () => backend,
    setBackend(next) {
      backend = next;
    },
    async close() {
      await journal.close();
      await index.close();
      await store.close();
    },
  };
}

/**
 * After a mode-0 write-back landed: the version is durable, so seed peers drop it as pending
 * (the backend decides from now on), then it is replicated to its owners (DESIGN.md §3).
 */
async function afterWriteBack(
  cluster: ClusterPort,
  store: PieceStore,
  entry: JournalEntry,
  etag: string,
): Promise<void> {
  const meta = store.stat(entry.taskId);
  if (!meta?.complete) return;
  await cluster.publish(entry.bucket, entry.key, {
    taskId: entry.taskId,
    state: 'durable',
    meta: { ...meta, etag },
  });
  await cluster.replicate({
    taskId: entry.taskId,
    bucket: entry.bucket,
    key: entry.key,
    filter: entry.filter ?? '',
    contentLength: meta.contentLength,
    maxReplicas: entry.maxReplicas,
  });
}
