import type { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { createDfstoreClient } from '../client/dfstore-client.ts';
import { REPLICA_HEADER } from '../core/headers.ts';
import { WriteMode } from '../core/write-mode.ts';
import type { Logger } from '../storage/deps.ts';
import { rankSeedPeers } from './placement.ts';

/** A live seed peer, as membership lists it. */
export interface SeedPeer {
  /** Stable identity; the placement hash uses it (DESIGN.md §3). */
  readonly id: string;
  /** Base URL of its dfstore object API, e.g. `http://10.0.1.7:65004` (may carry userinfo). */
  readonly objectApi: string;
}

export interface ReplicaUpload {
  readonly filter: string;
  /** Exact size of the object (the body is streamed with a Content-Length). */
  readonly contentLength: number;
}

/** Uploads one replica as a mode-2 (Ephemeral) PUT; rejects on any failure. */
export type PutReplica = (
  seedPeer: SeedPeer,
  bucket: string,
  key: string,
  body: Readable,
  upload: ReplicaUpload,
) => Promise<void>;

/** Where the count reached goes: a histogram (`observe`) or a counter of replicas (`inc`). */
export type ReplicasReachedSink = { observe(value: number): void } | { inc(value?: number): void };

export interface ReplicatorDeps {
  /** The live seed peers (membership); an error rejects `replicate`. */
  readonly seedPeers: () => Promise<readonly SeedPeer[]> | readonly SeedPeer[];
  /** This peer's seed-peer ID when it is one: it never counts as its own replica. */
  readonly selfId?: string;
  /** A fresh stream of the cached object for each attempt (e.g. `store.createReadStream`). */
  readonly openBody: (taskId: string) => Promise<Readable>;
  readonly putReplica: PutReplica;
  readonly logger: Logger;
  readonly metrics?: { readonly replicasReached: ReplicasReachedSink };
  /** Uploads in flight at once per replication (default: the target, all owners in parallel). */
  readonly concurrency?: number;
}

export interface ReplicationRequest {
  readonly taskId: string;
  readonly bucket: string;
  readonly key: string;
  readonly filter: string;
  readonly contentLength: number;
  readonly maxReplicas: number;
}

export interface ReplicationResult {
  /** Seed peers that acknowledged a replica. */
  readonly reached: number;
  /** min(maxReplicas, live seed peers other than this one). */
  readonly target: number;
  /** IDs of the seed peers reached, in rank order. */
  readonly owners: string[];
}

export interface Replicator {
  replicate(request: ReplicationRequest): Promise<ReplicationResult>;
}

/**
 * Replication of a written object to its owner seed peers (DESIGN.md §3): the first `target`
 * live seed peers in rendezvous rank for the task, uploaded in parallel as mode-2 PUTs. A failed
 * upload hands its slot to the next seed peer in rank, until `target` replicas are reached or the
 * ranking is exhausted; never more than `target` uploads succeed or run at once.
 *
 * Contracts:
 * - Owner failures never reject: the result says how many replicas were reached (logged, and
 *   exported through `metrics`), 0 when every seed peer failed.
 * - `openBody` and `seedPeers` failures are not owner failures: no further seed peer is tried
 *   and `replicate` rejects with that error once uploads in flight settle.
 * - The object is never buffered: every attempt streams a body of its own from `openBody`,
 *   destroyed once the attempt settles (a failed upload leaves no open file behind).
 */
export function createReplicator(deps: ReplicatorDeps): Replicator {
  const { logger } = deps;

  async function replicate(request: ReplicationRequest): Promise<ReplicationResult> {
    const { taskId, bucket } = request;
    const members = await deps.seedPeers();
    const ranked = rankSeedPeers(
      taskId,
      members.filter((seedPeer) => seedPeer.id !== deps.selfId),
    );
    const target = Math.max(0, Math.min(Math.floor(request.maxReplicas), ranked.length));
    const reachedRanks: number[] = [];
    let next = 0;
    let inFlight = 0;
    let fatal: { error: unknown } | undefined;

    async function attempt(rank: number, seedPeer: SeedPeer): Promise<void> {
      let body: Readable;
      try {
        body = await deps.openBody(taskId);
      } catch (error) {
        fatal ??= { error };
        return;
      }
      try {
        await deps.putReplica(seedPeer, bucket, request.key, body, {
          filter: request.filter,
          contentLength: request.contentLength,
        });
        reachedRanks.push(rank);
      } catch (error) {
        logger.warn(
          { taskId, bucket, seedPeerId: seedPeer.id, rank, err: errorMessage(error) },
          'replica upload failed; trying the next seed peer in rank',
        );
      } finally {
        body.destroy();
      }
    }

    async function worker(): Promise<void> {
      while (!fatal && reachedRanks.length + inFlight < target && next < ranked.length) {
        const rank = next++;
        const seedPeer = ranked[rank];
        if (!seedPeer) break;
        inFlight++;
        try {
          await attempt(rank, seedPeer);
        } finally {
          inFlight--;
        }
      }
    }

    const workers = Math.min(target, Math.max(1, Math.floor(deps.concurrency ?? target)));
    await Promise.all(Array.from({ length: workers }, worker));

    const owners = reachedRanks.sort((a, b) => a - b).map((rank) => ranked[rank]?.id ?? '');
    const result: ReplicationResult = { reached: owners.length, target, owners };
    if (fatal) {
      logger.error(
        { taskId, bucket, reached: result.reached, target, err: errorMessage(fatal.error) },
        'replication stopped: the cached object could not be read',
      );
      throw fatal.error;
    }
    record(result.reached);
    const fields = { taskId, bucket, reached: result.reached, target, owners, live: ranked.length };
    if (target === 0) {
      logger.debug(fields, 'replication skipped: no target (no live seed peer or maxReplicas 0)');
    } else if (result.reached === 0) {
      logger.error(fields, `replication reached no seed peer (0 of ${target})`);
    } else if (result.reached < target) {
      logger.warn(fields, `replication reached ${result.reached} of ${target} seed peers`);
    } else {
      logger.info(fields, `replication reached ${result.reached} of ${target} seed peers`);
    }
    return result;
  }

  function record(reached: number): void {
    const sink = deps.metrics?.replicasReached;
    if (!sink) return;
    if ('observe' in sink) sink.observe(reached);
    else sink.inc(reached);
  }

  return { replicate };
}

export interface DfstorePutReplicaOptions {
  /** Shared connection pool; owned by the caller. Default: one of our own, closed by close(). */
  readonly dispatcher?: Dispatcher;
  /** Extra headers for every replica PUT (e.g. the cluster's auth header). */
  readonly headers?: Record<string, string>;
  /** Wait for a seed peer's answer after the body is sent (default 60 s: mode 2 only imports). */
  readonly headersTimeoutMs?: number;
  /** Longest stall while streaming (default 60 s). */
  readonly bodyTimeoutMs?: number;
}

/**
 * The default `putReplica`: the seed peer's own dfstore object API, `PUT` with mode 2
 * (Ephemeral: import only, so a replica never writes the backend again) and the writer's filter,
 * so the seed peer derives the same task ID. Errors are the client's (DfstoreHttpError for a
 * non-2xx answer, undici's for a refused or broken connection).
 */
export function createDfstorePutReplica(options: DfstorePutReplicaOptions = {}): {
  readonly putReplica: PutReplica;
  close(): Promise<void>;
} {
  const dispatcher = options.dispatcher ?? new Agent();
  const owned = dispatcher !== options.dispatcher;
  return {
    async putReplica(seedPeer, bucket, key, body, upload) {
      const client = createDfstoreClient({
        endpoint: seedPeer.objectApi,
        dispatcher,
        headers: { ...options.headers, [REPLICA_HEADER]: '1' },
        headersTimeoutMs: options.headersTimeoutMs ?? 60_000,
        bodyTimeoutMs: options.bodyTimeoutMs ?? 60_000,
      });
      // An empty filter is not sent: the seed peer then applies its configured one, which the
      // manager hands every peer alike (`objectStorage.filter`), so the task IDs still agree.
      await client.putObject(bucket, key, body, {
        mode: WriteMode.Ephemeral,
        filter: upload.filter || undefined,
        contentLength: upload.contentLength,
      });
    },
    async close() {
      if (owned) await dispatcher.close();
    },
  };
}

function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
