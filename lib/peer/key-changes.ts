import type { z } from 'zod';
import type { Logger } from '../storage/deps.ts';
import type { P2pClient } from './p2p-client.ts';
import type { KeyChange, KeyChangeResult, keyChangeSchema, NodeRef } from './p2p-protocol.ts';
import type { Tracker } from './tracker.ts';

export interface KeyChangeDeps {
  /** Present on seed peers. */
  readonly tracker?: Tracker;
  readonly client: Pick<P2pClient, 'keyChanged'>;
  /**
   * Drops this daemon's own versions of bucket/key other than `keep` (index, cache, downloads);
   * resolves with how many it dropped. Provided by the daemon.
   */
  readonly evictLocal: (bucket: string, key: string, keep: string | undefined) => Promise<number>;
  readonly logger: Logger;
  /** Per forward (default 5 s). */
  readonly forwardTimeoutMs?: number;
}

export type KeyChangeRequest = z.output<typeof keyChangeSchema>;

/**
 * `POST /p2p/v1/keys/changed` (docs/P2P.md "Writes"): `bucket/key` now names `current` (absent:
 * deleted). Drops this daemon's other versions; a seed peer also remembers a pending `current`
 * (or forgets the key's pending version) and, when asked to forward, drops the other versions
 * it tracks and tells each of their holders (once per holder, in parallel). A holder that fails
 * or times out is counted in `failed`, never thrown: the change stands, and a version it still
 * holds is unreachable anyway (its tracker answers 410 for it). Resolves once forwards settle.
 */
export function createKeyChangeHandler(
  deps: KeyChangeDeps,
): (change: KeyChangeRequest) => Promise<KeyChangeResult> {
  const timeoutMs = deps.forwardTimeoutMs ?? 5_000;

  return async (change) => {
    const { bucket, key, current } = change;
    const keep = current?.taskId;
    const { tracker } = deps;
    let holders: NodeRef[] = [];
    if (tracker) {
      // Before anything awaits: a reader asking for the key's version right now must see it.
      if (current?.state === 'pending') {
        tracker.setPending(bucket, key, {
          taskId: current.taskId,
          metadata: current.metadata,
          holder: current.holder,
        });
      } else {
        tracker.clearPending(bucket, key);
      }
      if (keep) tracker.revive(keep);
      if (change.forward) {
        const versions = tracker.versionsOfKey(bucket, key, keep);
        holders = distinct(versions.flatMap((version) => version.holders));
        // Dropped before forwarding: from now on their syncs (and long polls) answer 410.
        for (const version of versions) tracker.dropTask(version.taskId);
      }
    }
    const forward: KeyChange = { bucket, key, current, forward: false };
    const [evicted, forwarded] = await Promise.allSettled([
      deps.evictLocal(bucket, key, keep),
      Promise.all(holders.map((holder) => forwardTo(holder, forward))),
    ]);
    if (evicted.status === 'rejected') throw evicted.reason;
    const failed =
      forwarded.status === 'fulfilled' ? forwarded.value.filter((ok) => !ok).length : 0;
    return { evicted: evicted.value, forwarded: holders.length, failed };
  };

  async function forwardTo(holder: NodeRef, change: KeyChange): Promise<boolean> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    try {
      // Raced against the timeout too, in case the client does not honour the signal.
      await Promise.race([
        deps.client.keyChanged(holder.pieces, change, timeout.signal),
        new Promise((_, reject) => {
          timeout.signal.addEventListener('abort', () => reject(timedOut(timeoutMs)));
        }),
      ]);
      return true;
    } catch (error) {
      deps.logger.warn(
        { peerId: holder.peerId, err: error instanceof Error ? error.message : String(error) },
        'forwarding a key change failed',
      );
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Each holder once, by peer ID (a holder of several dropped versions is told once). */
function distinct(nodes: NodeRef[]): NodeRef[] {
  const byId = new Map<string, NodeRef>();
  for (const node of nodes) if (!byId.has(node.peerId)) byId.set(node.peerId, node);
  return [...byId.values()];
}

function timedOut(ms: number): Error {
  return new Error(`no answer within ${ms} ms`);
}
