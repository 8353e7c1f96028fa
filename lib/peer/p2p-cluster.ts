import type { Hono } from 'hono';
import type { ObjectBackend } from '../backends/object-backend.ts';
import type { Logger } from '../storage/deps.ts';
import type { WriteBackJournal } from '../storage/journal.ts';
import { PieceBitmap } from '../storage/piece-bitmap.ts';
import type { PieceStore } from '../storage/piece-store.ts';
import type { ClusterPort, PublishedVersion } from './cluster-port.ts';
import { createKeyChangeHandler } from './key-changes.ts';
import type { ManagedSeedPeer, ManagerClient } from './manager-client.ts';
import { createP2pClient } from './p2p-client.ts';
import type { CurrentVersion, KeyChange, NodeRef } from './p2p-protocol.ts';
import { addP2pRoutes } from './p2p-routes.ts';
import type { PeerObjectService } from './peer-object-service.ts';
import { rankSeedPeers } from './placement.ts';
import {
  createDfstorePutReplica,
  createReplicator,
  type ReplicasReachedSink,
} from './replicator.ts';
import { SourceFetcher } from './source-fetch.ts';
import { SuspectPeers } from './suspect-peers.ts';
import { SwarmDownloader } from './swarm-download.ts';
import { Tracker } from './tracker.ts';
import { layoutOfTask, versionMetadataOfTask } from './version-metadata.ts';

export interface P2pMetricsSink {
  readonly replicasReached?: ReplicasReachedSink;
  readonly p2pBytes?: { inc(value?: number): void };
  readonly pieceFailures?: { inc(value?: number): void };
  readonly backToSourceBytes?: { inc(value?: number): void };
  readonly publishFailures?: { inc(value?: number): void };
}

export interface P2pClusterOptions {
  readonly role: 'peer' | 'seed-peer';
  readonly self: NodeRef;
  readonly store: PieceStore;
  /** Lands a key's pending write-back on request (the object API function's flush). */
  readonly journal?: Pick<WriteBackJournal, 'flushKey'>;
  readonly backend: () => ObjectBackend;
  /** Membership; without a manager the daemon knows no seed peer and works alone. */
  readonly manager?: ManagerClient;
  readonly logger: Logger;
  readonly metrics?: P2pMetricsSink;
  /** Per cluster request (sync without long poll, key change, pending lookup); default 5 s. */
  readonly requestTimeoutMs?: number;
}

/** This daemon's part in the P2P cluster (docs/P2P.md). */
export interface P2pCluster {
  readonly port: ClusterPort;
  /** Present on seed peers. */
  readonly tracker?: Tracker;
  /** Serves the cluster protocol on the piece server app. */
  addRoutes(app: Hono): void;
  /** The object service whose versions key changes evict. */
  attach(service: PeerObjectService): void;
  /** The store wrote a piece (the tracker's own pieces). */
  pieceAdded(taskId: string, index: number): void;
  close(): Promise<void>;
}

export function createP2pCluster(options: P2pClusterOptions): P2pCluster {
  const { self, store, logger, manager, metrics } = options;
  const timeoutMs = options.requestTimeoutMs ?? 5_000;
  const client = createP2pClient();
  const replicaUploads = createDfstorePutReplica();
  const seedPeers = (): readonly ManagedSeedPeer[] => manager?.snapshot()?.seedPeers ?? [];
  const suspects = new SuspectPeers();
  /** This daemon's entry in the seed-peer list, when it is a listed seed peer. */
  const selfSeedId = (): string | undefined =>
    seedPeers().find((peer) => peer.id === self.peerId || peer.pieces === self.pieces)?.id;
  const nodeOf = (peer: ManagedSeedPeer): NodeRef => ({ peerId: peer.id, pieces: peer.pieces });

  const sources =
    options.role === 'seed-peer'
      ? new SourceFetcher({
          store,
          backend: options.backend,
          logger,
          onBytes: (n) => metrics?.backToSourceBytes?.inc(n),
        })
      : undefined;
  const tracker = sources ? new Tracker({ self, store, sources, logger }) : undefined;
  const downloader = new SwarmDownloader({
    self,
    store,
    client,
    logger,
    metrics: { p2pBytes: metrics?.p2pBytes, pieceFailures: metrics?.pieceFailures },
  });
  const replicator = createReplicator({
    // Seed peers that failed lately get no replica (their slots go to the next in rank), unless
    // every one is suspect.
    seedPeers: () => {
      const all = seedPeers();
      const healthy = all.filter((peer) => !suspects.isSuspect(peer.id));
      return healthy.length > 0 ? healthy : all;
    },
    get selfId() {
      return selfSeedId();
    },
    openBody: (taskId) => store.createReadStream(taskId),
    putReplica: (peer, ...rest) =>
      suspects.track(peer.id, () => replicaUploads.putReplica(peer, ...rest)),
    logger,
    metrics: metrics?.replicasReached ? { replicasReached: metrics.replicasReached } : undefined,
  });
  let service: PeerObjectService | undefined;
  const onKeyChanged = createKeyChangeHandler({
    tracker,
    client,
    logger,
    evictLocal: async (bucket, key, keep) => {
      if (!service) return 0;
      const dropped = await service.evictLocal(bucket, key, keep);
      for (const taskId of dropped) {
        downloader.abortTask(taskId, new Error(`${bucket}/${key} changed: version dropped`));
      }
      return dropped.length;
    },
  });

  function owners(taskId: string): NodeRef[] {
    return rankSeedPeers(taskId, seedPeers()).map(nodeOf);
  }

  async function pendingVersion(bucket: string, key: string): Promise<CurrentVersion | undefined> {
    // Every seed peer heard the change; ask the key's first two in rank (one may be down).
    const ranked = rankSeedPeers(`${bucket}/${key}`, seedPeers()).slice(0, 2);
    for (const peer of suspects.healthyFirst(ranked)) {
      try {
        return await suspects.track(peer.id, () =>
          client.currentVersion(peer.pieces, bucket, key, AbortSignal.timeout(timeoutMs)),
        );
      } catch (error) {
        logger.debug({ err: error, seedPeer: peer.id }, 'pending-version lookup failed');
      }
    }
    return undefined;
  }

  /** Registers a whole task we hold with its first answering owner. */
  async function announce(taskId: string): Promise<void> {
    const meta = store.stat(taskId);
    if (!meta?.complete) return;
    const have = new PieceBitmap(meta.pieceCount);
    for (let i = 0; i < meta.pieceCount; i++) have.add(i);
    const ranked = rankSeedPeers(taskId, seedPeers());
    for (const owner of suspects.healthyFirst(ranked)) {
      if (owner.id === selfSeedId()) return; // our own tracker reads our store
      try {
        const body = { node: self, have: have.toBase64(), layout: layoutOfTask(meta), waitMs: 0 };
        await suspects.track(owner.id, () =>
          client.sync(owner.pieces, taskId, body, AbortSignal.timeout(timeoutMs)),
        );
        return;
      } catch (error) {
        logger.debug({ err: error, seedPeer: owner.id, taskId }, 'announce failed');
      }
    }
  }

  async function broadcast(change: KeyChange): Promise<void> {
    const sends = seedPeers().map((peer) => ({
      peer,
      // Decided before sending: the send itself updates the list.
      suspect: suspects.isSuspect(peer.id),
      sent: suspects.track(peer.id, () =>
        client.keyChanged(peer.pieces, change, AbortSignal.timeout(timeoutMs)),
      ),
    }));
    // Seed peers that failed lately still get the change, but nobody waits for them.
    for (const { peer, suspect, sent } of sends) {
      if (!suspect) continue;
      sent.catch((error: unknown) => {
        metrics?.publishFailures?.inc();
        logger.debug({ err: error, seedPeer: peer.id }, 'key change to a suspect seed peer failed');
      });
    }
    const awaited = sends.filter((send) => !send.suspect);
    const results = await Promise.allSettled(awaited.map((send) => send.sent));
    const failed = results.flatMap((result, i) =>
      result.status === 'rejected'
        ? [{ seedPeer: awaited[i]?.peer.id, err: `${result.reason}` }]
        : [],
    );
    if (failed.length > 0) {
      metrics?.publishFailures?.inc(failed.length);
      // A seed peer that is gone may be gone from the manager's list too.
      void manager?.refreshNow();
      logger.warn(
        { bucket: change.bucket, failed, of: sends.length },
        'key change not delivered to every seed peer: stale copies may survive there',
      );
    }
  }

  async function publish(
    bucket: string,
    key: string,
    version: PublishedVersion | undefined,
  ): Promise<void> {
    if (seedPeers().length === 0) return;
    const current = version && {
      taskId: version.taskId,
      state: version.state,
      metadata: versionMetadataOfTask(version.meta),
      holder: self,
    };
    await Promise.all([
      version ? announce(version.taskId) : undefined,
      broadcast({ bucket, key, current, forward: true }),
    ]).catch((error: unknown) => logger.error({ err: error, bucket }, 'publish failed'));
  }

  const port: ClusterPort = {
    hasSeedPeers: () => seedPeers().length > 0,
    pendingVersion,
    owners,
    download: (request) => downloader.download(request),
    publish,
    async replicate(request) {
      try {
        await replicator.replicate(request);
      } catch (error) {
        logger.error({ err: error, taskId: request.taskId }, 'replication failed');
      }
    },
  };

  return {
    port,
    tracker,
    addRoutes(app) {
      const { journal } = options;
      addP2pRoutes(app, {
        tracker,
        onKeyChanged,
        onFlush:
          journal &&
          ((request, signal) => journal.flushKey(request.bucket, request.key, { signal })),
        onImport:
          sources &&
          ((taskId, request) => {
            sources
              .fetch({ taskId, ...request })
              .then((fetch) => fetch.done)
              .catch((error: unknown) =>
                logger.warn({ err: error, taskId, bucket: request.bucket }, 'import failed'),
              );
          }),
      });
    },
    attach(next) {
      service = next;
    },
    pieceAdded(taskId, index) {
      tracker?.pieceAdded(taskId, index);
    },
    async close() {
      tracker?.close();
      await downloader.close();
      await sources?.close();
      await replicaUploads.close();
      await client.close();
    },
  };
}
