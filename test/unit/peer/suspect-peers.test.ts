import { describe, expect, it } from 'vitest';
import { SuspectPeers } from '../../../lib/peer/suspect-peers.ts';

describe('SuspectPeers', () => {
  const peers = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];

  it('holds a failed peer suspect until the hold runs out or it succeeds', () => {
    let now = 1_000;
    const suspects = new SuspectPeers({ holdMs: 500, now: () => now });
    expect(suspects.isSuspect('a')).toBe(false);
    suspects.failed('a');
    suspects.failed('b');
    expect(suspects.isSuspect('a')).toBe(true);
    now += 499;
    expect(suspects.isSuspect('a')).toBe(true);
    suspects.succeeded('b');
    expect(suspects.isSuspect('b')).toBe(false);
    now += 1;
    expect(suspects.isSuspect('a')).toBe(false);
  });

  it('orders healthy peers first, each group in its rank order', () => {
    const suspects = new SuspectPeers();
    suspects.failed('a');
    expect(suspects.healthyFirst(peers).map((p) => p.id)).toEqual(['b', 'c', 'a']);
    suspects.failed('c');
    expect(suspects.healthyFirst(peers).map((p) => p.id)).toEqual(['b', 'a', 'c']);
    expect(new SuspectPeers().healthyFirst(peers)).toEqual(peers);
  });

  it('tracks a request: a rejection marks the peer, a success clears it', async () => {
    const suspects = new SuspectPeers();
    await expect(suspects.track('a', () => Promise.reject(new Error('timeout')))).rejects.toThrow(
      'timeout',
    );
    expect(suspects.isSuspect('a')).toBe(true);
    await expect(suspects.track('a', async () => 42)).resolves.toBe(42);
    expect(suspects.isSuspect('a')).toBe(false);
  });
});
