import type { ObjectService } from '../api/object-service.ts';
import type { ObjectBackend } from '../backends/object-backend.ts';
import type { BackoffPolicy } from '../storage/backoff.ts';
import { type Logger, noopLogger } from '../storage/deps.ts';
import { openWriteBackJournal, type WriteBackJournal } from '../storage/journal.ts';
import { type ObjectIndex, openObjectIndex } from '../storage/object-index.ts';
import { openPieceStore, type PieceStore } from '../storage/piece-store.ts';
import { createPeerObjectService, type PeerMetricsSink } from './peer-object-service.ts';
import { createWriteBackHandler } from './write-back.ts';

export type { PeerMetricsSink } from './peer-object-service.ts';

export interface PeerNodeOptions {
  readonly dataDir: string;
  /** Bytes of cache (`storage.capacity`); unbounded when absent. */
  readonly capacity?: number;
  readonly backend: ObjectBackend;
  /** `objectStorage.filter`. */
  readonly filter: string;
  /** `objectStorage.maxReplicas`. */
  readonly maxReplicas: number;
  readonly logger?: Logger;
  readonly metrics?: PeerMetricsSink;
  /** Write-backs running at once (default 4). */
  readonly writeBackConcurrency?: number;
  /** Retry backoff of failed write-backs (default 1 s base, full jitter). */
  readonly writeBackBackoff?: BackoffPolicy;
}

export interface PeerNode {
  readonly service: ObjectService;
  readonly store: PieceStore;
  readonly index: ObjectIndex;
  readonly journal: WriteBackJournal;
  /** Swaps the backend (a changed config from the manager); pending write-backs use the new one. */
  setBackend(backend: ObjectBackend): void;
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
  let backend = options.backend;
  const store = await openPieceStore({
    dataDir: options.dataDir,
    capacity: options.capacity,
    logger,
  });
  const index = await openObjectIndex({ dataDir: options.dataDir, logger });
  const journal = await openWriteBackJournal({
    dataDir: options.dataDir,
    handler: createWriteBackHandler({ store, index, backend: () => backend, logger }),
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
    filter: options.filter,
    maxReplicas: options.maxReplicas,
    logger,
    metrics: options.metrics,
  });
  return {
    service,
    store,
    index,
    journal,
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
