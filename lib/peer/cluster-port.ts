import type { TaskMeta } from '../storage/task-meta.ts';
import type { CurrentVersion, NodeRef } from './p2p-protocol.ts';
import type { ReplicationRequest } from './replicator.ts';
import type { SwarmDownload, SwarmRequest } from './swarm-download.ts';

/** A version this daemon just made current for a key (after a PUT was indexed). */
export interface PublishedVersion {
  readonly taskId: string;
  /** pending: only the cluster holds it (mode 0 before its write-back, mode 2). */
  readonly state: 'pending' | 'durable';
  readonly meta: TaskMeta;
}

/**
 * What the object service needs from the P2P cluster (docs/P2P.md). Absent (a daemon without a
 * manager) the service works alone: cache + backend.
 */
export interface ClusterPort {
  /** Whether any seed peer is known (otherwise a miss goes straight to the backend). */
  hasSeedPeers(): boolean;
  /** The key's pending cluster-held version, if a seed peer knows one (errors → undefined). */
  pendingVersion(bucket: string, key: string): Promise<CurrentVersion | undefined>;
  /** The task's owners, tracker candidates in rank order. */
  owners(taskId: string): NodeRef[];
  /** Starts or joins a swarm download; rejects NoTrackerError when no owner answers. */
  download(request: SwarmRequest): Promise<SwarmDownload>;
  /**
   * Tells the cluster that `bucket/key` now names `version` (undefined: deleted): announces the
   * task to its tracker and broadcasts the change to every seed peer, which evict the other
   * versions everywhere. Resolves when done; never rejects (failures are logged and counted).
   */
  publish(bucket: string, key: string, version: PublishedVersion | undefined): Promise<void>;
  /** Replicates a written task to its owner seed peers; never rejects. */
  replicate(request: ReplicationRequest): Promise<void>;
}
