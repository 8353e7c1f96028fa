import { createHash } from 'node:crypto';

/**
 * Placement of tasks on seed peers by rendezvous (highest random weight) hashing (DESIGN.md §3):
 * every seed peer gets a score per task, and the task's owners are the seed peers with the
 * highest scores. Every peer computes the same ranking from the same membership, with no
 * coordination, and a membership change moves only the tasks whose owners changed: a joining
 * seed peer takes over about 1/n of the tasks, a leaving one hands over exactly its own.
 *
 * Score: the first 8 bytes of sha256(taskId + '\0' + seedPeerId), read big-endian as an
 * unsigned 64-bit BigInt. sha256 is already how task IDs are made (lib/core/task-id.ts), is
 * stable across Node versions and platforms (unlike a seeded non-cryptographic hash), and its
 * output is uniform, so each seed peer wins an even share. 64 bits make ties between distinct
 * peers practically impossible; the NUL separator keeps ("ab","c") and ("a","bc") apart (task
 * IDs are hex, so they never contain NUL). The score is part of the cluster's wire behaviour:
 * peers of mixed versions must agree on it, so it is pinned by a golden test.
 */

export interface RankedSeedPeer<T> {
  readonly seedPeer: T;
  readonly score: bigint;
}

/** The rendezvous score of `seedPeerId` for `taskId` (higher ranks first). */
export function placementScore(taskId: string, seedPeerId: string): bigint {
  return createHash('sha256').update(`${taskId}\0${seedPeerId}`).digest().readBigUInt64BE(0);
}

/**
 * The seed peers ranked for `taskId`, best first. Deterministic and independent of the input's
 * order; an ID listed twice counts once (its first entry is kept). Ties (equal scores, which
 * would take a 64-bit collision) fall back to the ID's code-unit order.
 */
export function rankSeedPeers<T extends { readonly id: string }>(
  taskId: string,
  seedPeers: readonly T[],
): T[] {
  const seen = new Set<string>();
  const scored: RankedSeedPeer<T>[] = [];
  for (const seedPeer of seedPeers) {
    if (seen.has(seedPeer.id)) continue;
    seen.add(seedPeer.id);
    scored.push({ seedPeer, score: placementScore(taskId, seedPeer.id) });
  }
  scored.sort((a, b) => {
    if (a.score !== b.score) return a.score > b.score ? -1 : 1;
    return a.seedPeer.id < b.seedPeer.id ? -1 : a.seedPeer.id > b.seedPeer.id ? 1 : 0;
  });
  return scored.map((entry) => entry.seedPeer);
}

/**
 * The first `k` seed peers in rank for `taskId`: the task's owners. `exclude` (the writer's own
 * ID, when the writer is itself a seed peer) is left out before ranking, so the writer never
 * counts as one of its replicas. Fewer than `k` when there are fewer seed peers; none for k ≤ 0.
 */
export function ownersOf<T extends { readonly id: string }>(
  taskId: string,
  seedPeers: readonly T[],
  k: number,
  exclude?: string,
): T[] {
  if (!(k > 0)) return [];
  const candidates =
    exclude === undefined ? seedPeers : seedPeers.filter((seedPeer) => seedPeer.id !== exclude);
  return rankSeedPeers(taskId, candidates).slice(0, Math.floor(k));
}
