import { afterEach, describe, expect, it } from 'vitest';
import { createKeyChangeHandler, type KeyChangeDeps } from '../../../lib/peer/key-changes.ts';
import type { KeyChange, NodeRef } from '../../../lib/peer/p2p-protocol.ts';
import type { Tracker } from '../../../lib/peer/tracker.ts';
import { noopLogger } from '../../../lib/storage/deps.ts';
import { body, layoutOf, metadataOf, newTracker, node, taskIdOf } from './tracker-fakes.ts';

const [OLD, OLDER, NEW] = [taskIdOf('old'), taskIdOf('older'), taskIdOf('new')];

/** A P2P client that records forwards; `behaviour` decides each holder's answer. */
function fakeClient(behaviour: (pieces: string) => 'ok' | 'fail' | 'hang' = () => 'ok') {
  const calls: { pieces: string; change: KeyChange }[] = [];
  return {
    calls,
    keyChanged(pieces: string, change: KeyChange, signal?: AbortSignal) {
      calls.push({ pieces, change });
      const mode = behaviour(pieces);
      if (mode === 'fail') return Promise.reject(new Error('connection refused'));
      if (mode === 'hang') return new Promise<never>(() => signal?.throwIfAborted());
      return Promise.resolve({ evicted: 1, forwarded: 0, failed: 0 });
    },
  };
}

let tracker: Tracker | undefined;
afterEach(() => tracker?.close());

/** A seed peer's tracker knowing two old versions of b/k: OLD (peers 1, 2), OLDER (2, 3). */
async function seedTracker() {
  const made = newTracker();
  tracker = made.tracker;
  await tracker.sync(OLD, body(1, { layout: layoutOf(OLD, 10) }));
  await tracker.sync(OLD, body(2));
  await tracker.sync(OLDER, body(2, { layout: layoutOf(OLDER, 10) }));
  await tracker.sync(OLDER, body(3));
  await tracker.sync(NEW, body(4, { layout: layoutOf(NEW, 10) }));
  return made.tracker;
}

function handler(overrides: Partial<KeyChangeDeps> = {}) {
  const evictions: [string, string, string | undefined][] = [];
  const client = fakeClient();
  const handle = createKeyChangeHandler({
    client,
    logger: noopLogger,
    evictLocal: async (...args) => {
      evictions.push(args);
      return 2;
    },
    ...overrides,
  });
  return { handle, evictions, client };
}

const current = (state: 'pending' | 'durable', holder: NodeRef = node(4)) => ({
  taskId: NEW,
  state,
  metadata: metadataOf(10),
  holder,
});

describe('key change handler', () => {
  it('evicts local versions but the current one (a daemon without tracker)', async () => {
    const { handle, evictions, client } = handler();

    const result = await handle({
      bucket: 'b',
      key: 'k',
      current: current('durable'),
      forward: true,
    });

    expect(evictions).toEqual([['b', 'k', NEW]]);
    expect(result).toEqual({ evicted: 2, forwarded: 0, failed: 0 });
    expect(client.calls).toEqual([]);
  });

  it('forwards once to each holder of the other versions, counts failures, drops them', async () => {
    const seed = await seedTracker();
    const client = fakeClient((pieces) => (pieces === node(2).pieces ? 'fail' : 'ok'));
    const { handle } = handler({ tracker: seed, client });
    const change = { bucket: 'b', key: 'k', current: current('durable'), forward: true };

    const result = await handle(change);

    expect(result).toEqual({ evicted: 2, forwarded: 3, failed: 1 });
    expect(client.calls.map((call) => call.pieces).sort()).toEqual(
      [node(1), node(2), node(3)].map((n) => n.pieces),
    );
    expect(client.calls[0]?.change).toEqual({ ...change, forward: false });
    expect(seed.versionsOfKey('b', 'k').map((v) => v.taskId)).toEqual([NEW]);
    await expect(seed.sync(OLD, body(1))).rejects.toMatchObject({ statusCode: 410 });
    await expect(seed.sync(NEW, body(5))).resolves.toMatchObject({ holders: [{ node: node(4) }] });
  });

  it('counts a holder that does not answer in time as failed', async () => {
    const seed = await seedTracker();
    const client = fakeClient((pieces) => (pieces === node(3).pieces ? 'hang' : 'ok'));
    const { handle } = handler({ tracker: seed, client, forwardTimeoutMs: 20 });

    const result = await handle({ bucket: 'b', key: 'k', forward: true });

    // A delete keeps no version: the holder of NEW (peer 4) is told as well.
    expect(result).toEqual({ evicted: 2, forwarded: 4, failed: 1 });
    expect(seed.versionsOfKey('b', 'k')).toEqual([]);
  });

  it('does not forward a forwarded change', async () => {
    const seed = await seedTracker();
    const { handle, client } = handler({ tracker: seed });

    const result = await handle({
      bucket: 'b',
      key: 'k',
      current: current('durable'),
      forward: false,
    });

    expect(result).toEqual({ evicted: 2, forwarded: 0, failed: 0 });
    expect(client.calls).toEqual([]);
    expect(seed.versionsOfKey('b', 'k', NEW)).toHaveLength(2);
  });

  it('remembers a pending current version and forgets it on the durable change', async () => {
    const seed = await seedTracker();
    const { handle } = handler({ tracker: seed });

    await handle({ bucket: 'b', key: 'k', current: current('pending'), forward: true });
    const pending = seed.pending('b', 'k');
    await handle({ bucket: 'b', key: 'k', current: current('durable'), forward: true });

    expect(pending).toEqual({ taskId: NEW, metadata: metadataOf(10), holder: node(4) });
    expect(seed.pending('b', 'k')).toBeUndefined();
  });

  it('revives a dropped version that is current again (the same bytes written again)', async () => {
    const seed = await seedTracker();
    const { handle } = handler({ tracker: seed });
    await handle({ bucket: 'b', key: 'k', current: current('durable'), forward: true });

    await handle({
      bucket: 'b',
      key: 'k',
      current: { ...current('durable'), taskId: OLD },
      forward: true,
    });

    await expect(seed.sync(OLD, body(1, { layout: layoutOf(OLD, 10) }))).resolves.toBeDefined();
  });

  it('fails when the local eviction fails, after the forwards settled', async () => {
    const seed = await seedTracker();
    const client = fakeClient();
    const { handle } = handler({
      tracker: seed,
      client,
      evictLocal: () => Promise.reject(new Error('disk gone')),
    });

    await expect(handle({ bucket: 'b', key: 'k', forward: true })).rejects.toThrow('disk gone');
    expect(client.calls).toHaveLength(4);
  });
});
