import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** What the journal gauges read at scrape time (WriteBackJournal satisfies it). */
export interface JournalMetricsSource {
  metrics(): {
    readonly pending: number;
    readonly inFlight: number;
    readonly oldestPendingAgeMs: number;
    readonly failures: number;
  };
}

/** What the store gauges read at scrape time (PieceStore satisfies it). */
export interface StoreUsageSource {
  usage(): {
    readonly usedBytes: number;
    readonly capacity: number;
    readonly taskCount: number;
    readonly pinnedBytes: number;
    readonly overCapacityBytes: number;
  };
}

export type HttpLabels = 'method' | 'route' | 'status';
/** Which listener moved the bytes: the object API or the piece server (P2P traffic). */
export type ServerLabel = 'server';

export interface DaemonMetrics {
  readonly registry: Registry;
  /** Labels are route patterns (`/buckets/:bucket/objects/*`), never paths. */
  readonly httpRequests: Counter<HttpLabels>;
  readonly httpDuration: Histogram<HttpLabels>;
  readonly bytesSent: Counter<ServerLabel>;
  readonly bytesReceived: Counter<ServerLabel>;
  /** The peer node's counters (its PeerMetricsSink). */
  readonly cacheHits: Counter;
  readonly cacheMisses: Counter;
  readonly backToSourceBytes: Counter;
  /** P2P (docs/P2P.md): replicas reached per replication, piece bytes from peers, rejected or
   * failed piece fetches, key changes not delivered to a seed peer. */
  readonly replicasReached: Histogram;
  readonly p2pBytes: Counter;
  readonly pieceFailures: Counter;
  readonly publishFailures: Counter;
  /** Points the journal and store gauges at their sources (once the node is open). */
  observe(sources: { journal?: JournalMetricsSource; store?: StoreUsageSource }): void;
}

export interface DaemonMetricsOptions {
  /** Also export Node's process metrics (`process_*`, `nodejs_*`); default true. */
  readonly processMetrics?: boolean;
}

/**
 * One Prometheus registry per daemon (never prom-client's global one), so several daemons or
 * tests in one process do not share counters.
 */
export function createDaemonMetrics(options: DaemonMetricsOptions = {}): DaemonMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  let journal: JournalMetricsSource | undefined;
  let store: StoreUsageSource | undefined;

  const gauge = (name: string, help: string, read: () => number | undefined) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const value = read();
        if (value !== undefined) this.set(value);
      },
    });

  gauge(
    'dfstore_journal_pending',
    'Write-back journal entries not yet retired.',
    () => journal?.metrics().pending,
  );
  gauge('dfstore_journal_in_flight', 'Write-backs running now.', () => journal?.metrics().inFlight);
  gauge(
    'dfstore_journal_oldest_age_seconds',
    'Age of the oldest pending write-back entry (0 when none).',
    () => (journal ? journal.metrics().oldestPendingAgeMs / 1000 : undefined),
  );
  let failuresSeen = 0;
  new Counter({
    name: 'dfstore_journal_failures_total',
    help: 'Failed write-back attempts (each is retried).',
    registers,
    collect() {
      // The journal keeps the running total; a counter only moves forward.
      const failures = journal?.metrics().failures ?? failuresSeen;
      if (failures > failuresSeen) this.inc(failures - failuresSeen);
      failuresSeen = Math.max(failuresSeen, failures);
    },
  });
  gauge(
    'dfstore_store_used_bytes',
    'Bytes of task data in the piece store.',
    () => store?.usage().usedBytes,
  );
  gauge('dfstore_store_capacity_bytes', 'Configured piece store capacity (-1: unbounded).', () => {
    const capacity = store?.usage().capacity;
    return capacity === undefined || Number.isFinite(capacity) ? capacity : -1;
  });
  gauge(
    'dfstore_store_tasks',
    'Tasks (object versions) in the piece store.',
    () => store?.usage().taskCount,
  );
  gauge(
    'dfstore_store_pinned_bytes',
    'Bytes eviction cannot reclaim now.',
    () => store?.usage().pinnedBytes,
  );
  gauge(
    'dfstore_store_over_capacity_bytes',
    'Bytes over capacity because everything left is pinned.',
    () => store?.usage().overCapacityBytes,
  );

  return {
    registry,
    httpRequests: new Counter({
      name: 'dfstore_http_requests_total',
      help: 'HTTP requests answered, by route pattern.',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'dfstore_http_request_duration_seconds',
      help: 'Time from request to the last byte of the response.',
      labelNames: ['method', 'route', 'status'],
      // Up to 10 minutes: whole-object uploads and downloads are requests too.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    }),
    bytesSent: new Counter({
      name: 'dfstore_bytes_sent_total',
      help: 'Bytes written to HTTP clients (headers included).',
      labelNames: ['server'],
      registers,
    }),
    bytesReceived: new Counter({
      name: 'dfstore_bytes_received_total',
      help: 'Bytes read from HTTP clients (headers included).',
      labelNames: ['server'],
      registers,
    }),
    cacheHits: new Counter({
      name: 'dfstore_cache_hits_total',
      help: 'Object reads served from the local piece store.',
      registers,
    }),
    cacheMisses: new Counter({
      name: 'dfstore_cache_misses_total',
      help: 'Object reads the local piece store could not serve.',
      registers,
    }),
    backToSourceBytes: new Counter({
      name: 'dfstore_back_to_source_bytes_total',
      help: 'Bytes fetched from the backend to fill the cache.',
      registers,
    }),
    replicasReached: new Histogram({
      name: 'dfstore_replicas_reached',
      help: 'Seed peers that acknowledged a replica, per replicated write.',
      buckets: [0, 1, 2, 3, 4, 5, 8],
      registers,
    }),
    p2pBytes: new Counter({
      name: 'dfstore_p2p_bytes_total',
      help: 'Piece bytes downloaded from other daemons and verified.',
      registers,
    }),
    pieceFailures: new Counter({
      name: 'dfstore_p2p_piece_failures_total',
      help: 'Piece fetches that failed: a sha256 mismatch, an error or a timeout of the source.',
      registers,
    }),
    publishFailures: new Counter({
      name: 'dfstore_key_change_failures_total',
      help: 'Key changes (writes, deletes) a seed peer did not acknowledge.',
      registers,
    }),
    observe(sources) {
      journal = sources.journal ?? journal;
      store = sources.store ?? store;
    },
  };
}
