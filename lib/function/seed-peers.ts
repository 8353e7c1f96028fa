import type { MembershipSource } from '../manager/membership/membership-source.ts';
import type { LogMethods } from '../observability/logger.ts';
import { rankSeedPeers } from '../peer/placement.ts';

/** A seed peer as the function reaches it. */
export interface FunctionSeedPeer {
  /** The membership ID: placement ranks by it, as every peer does. */
  readonly id: string;
  /** Base URL of its dfstore object API. */
  readonly objectApi: string;
  /** Base URL of its piece server (the cluster protocol). */
  readonly pieces: string;
}

export interface SeedPeerDirectoryOptions {
  readonly source: MembershipSource;
  /** How long a list is used before the source is asked again (default 5 s). */
  readonly cacheTtlMs?: number;
  /** How long a seed peer that could not be reached is skipped (default 10 s). */
  readonly skipUnreachableMs?: number;
  readonly now?: () => number;
  readonly logger?: Pick<LogMethods, 'warn' | 'error'>;
}

/** The live seed peers, cached per function instance (it serves many requests while warm). */
export interface SeedPeerDirectory {
  /** Every listed seed peer. */
  all(): Promise<FunctionSeedPeer[]>;
  /**
   * The seed peers ranked for `placementKey` (rendezvous hashing over the whole list, so the
   * order is the one every peer computes), minus those recently found unreachable.
   */
  ranked(placementKey: string): Promise<FunctionSeedPeer[]>;
  /** A connection to it failed: skip it for a while. */
  markUnreachable(id: string): void;
}

export function createSeedPeerDirectory(options: SeedPeerDirectoryOptions): SeedPeerDirectory {
  const ttl = options.cacheTtlMs ?? 5_000;
  const skipMs = options.skipUnreachableMs ?? 10_000;
  const now = options.now ?? Date.now;
  const unreachableUntil = new Map<string, number>();
  let cached: { peers: FunctionSeedPeer[]; at: number } | undefined;
  let inflight: Promise<FunctionSeedPeer[]> | undefined;

  async function load(): Promise<FunctionSeedPeer[]> {
    try {
      const listed = await options.source.list();
      const peers = listed.map((peer) => ({
        id: peer.id,
        objectApi: `http://${hostPort(peer.ip, peer.port)}`,
        pieces: `http://${hostPort(peer.ip, peer.downloadPort)}`,
      }));
      cached = { peers, at: now() };
      return peers;
    } catch (error) {
      // Without a list the function still works: straight to the backend, synchronously.
      options.logger?.error({ err: error }, 'seed-peer membership unavailable');
      if (cached) return cached.peers;
      return [];
    }
  }

  async function all(): Promise<FunctionSeedPeer[]> {
    if (cached && now() - cached.at < ttl) return cached.peers;
    inflight ??= load().finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  return {
    all,
    async ranked(placementKey) {
      const at = now();
      return rankSeedPeers(placementKey, await all()).filter(
        (peer) => (unreachableUntil.get(peer.id) ?? 0) <= at,
      );
    },
    markUnreachable(id) {
      unreachableUntil.set(id, now() + skipMs);
      options.logger?.warn({ seedPeer: id, skipMs }, 'seed peer unreachable; skipping it for now');
    },
  };
}

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
