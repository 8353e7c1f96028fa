import { afterEach, describe, expect, it, vi } from 'vitest';
import { GoneError, NotFoundError } from '../../../lib/core/errors.ts';
import type { SyncResponse } from '../../../lib/peer/p2p-protocol.ts';
import { VersionChangedError } from '../../../lib/peer/source-fetch.ts';
import {
  bits,
  body,
  digestOf,
  layoutOf,
  metadataOf,
  newTracker,
  node,
  SELF,
  source,
  taskIdOf,
} from './tracker-fakes.ts';

let ctx: ReturnType<typeof newTracker> | undefined;
afterEach(() => {
  ctx?.tracker.close();
  ctx = undefined;
  vi.useRealTimers();
});

const setup = (...args: Parameters<typeof newTracker>) => {
  ctx = newTracker(...args);
  return ctx;
};

/** Lets pending promise callbacks run. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

/** Follows a promise without awaiting it. */
function watch<T>(promise: Promise<T>) {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

const ID = taskIdOf('a');

describe('Tracker: layout and holders', () => {
  it('adopts the layout of a complete holder and lists that holder, full, to readers', async () => {
    const { tracker } = setup();
    const layout = layoutOf(ID, 10);

    const writer = await tracker.sync(ID, body(1, { layout }));
    const reader = await tracker.sync(ID, body(2));

    expect(writer).toMatchObject({ layout, holders: [] });
    expect(reader.layout).toEqual(layout);
    expect(reader.holders).toEqual([{ node: node(1), have: bits(3, [0, 1, 2]) }]);
    expect(reader.revision).toBeGreaterThan(0);
  });

  it('lists holders with their bitmaps, leaves the caller out and itself in', async () => {
    const { tracker, store } = setup();
    store.putPartial(ID, 10);
    store.addPiece(ID, 2);

    await tracker.sync(ID, body(1, { have: bits(3, [0]) }));
    // Holds nothing yet: listed with an empty bitmap, so that downloaders starting together
    // know each other before their first piece lands.
    await tracker.sync(ID, body(3));
    const answer = await tracker.sync(ID, body(2, { have: bits(3, [1]) }));

    expect(answer.holders).toEqual([
      { node: node(1), have: bits(3, [0]) },
      { node: node(3), have: bits(3, []) },
      { node: SELF, have: bits(3, [2]) },
    ]);
    const toFirst = await tracker.sync(ID, body(1, { have: bits(3, [0]) }));
    expect(toFirst.holders.map((h) => h.node.peerId)).toEqual(['peer-3', 'peer-2', 'seed-1']);
  });

  it('answers the freshest digests: the store as pieces land, completed by a holder', async () => {
    const { tracker, store } = setup();
    store.putPartial(ID, 10);

    const before = await tracker.sync(ID, body(1));
    store.addPiece(ID, 1);
    tracker.pieceAdded(ID, 1);
    const after = await tracker.sync(ID, body(1));
    await tracker.sync(ID, body(2, { layout: layoutOf(ID, 10) }));
    const adopted = await tracker.sync(ID, body(1));

    expect(before.layout.pieceDigests).toEqual(['', '', '']);
    expect(after.layout.pieceDigests).toEqual(['', digestOf(1), '']);
    expect(after.revision).toBeGreaterThan(before.revision);
    expect(adopted.layout.pieceDigests).toEqual([0, 1, 2].map(digestOf));
  });

  it('refuses (422) a bitmap of the wrong length and a layout of another shape', async () => {
    const { tracker } = setup();
    await tracker.sync(ID, body(1, { layout: layoutOf(ID, 10) }));

    const badHave = tracker.sync(ID, body(2, { have: bits(20, [0]) }));
    const badLayout = tracker.sync(ID, body(2, { layout: layoutOf(ID, 30) }));
    const otherTask = tracker.sync(ID, body(2, { layout: layoutOf(taskIdOf('b'), 10) }));

    await expect(badHave).rejects.toMatchObject({ statusCode: 422, message: /^have: / });
    await expect(badLayout).rejects.toMatchObject({ statusCode: 422 });
    await expect(otherTask).rejects.toMatchObject({ statusCode: 422 });
  });
});

describe('Tracker: source fetch', () => {
  it('fetches once for many concurrent syncs and answers once the partial task exists', async () => {
    const { tracker, sources, store } = setup();

    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, n) => tracker.sync(ID, body(n, { source: source() }))),
    );
    store.addPiece(ID, 0);
    tracker.pieceAdded(ID, 0);
    const later = await tracker.sync(ID, body(99, { source: source() }));

    expect(sources.calls).toEqual([{ taskId: ID, ...source() }]);
    for (const answer of answers) {
      expect(answer.layout).toMatchObject({ pieceCount: 3, bucket: 'b', key: 'k' });
      expect(answer.layout.pieceDigests).toEqual(['', '', '']);
      expect(answer.layout.metadata).toEqual(metadataOf(10));
      // Only the other downloaders, none holding anything: nothing to fetch from yet.
      expect(answer.holders.every((holder) => holder.have === bits(3, []))).toBe(true);
    }
    expect(later.holders.filter((holder) => holder.have !== bits(3, []))).toEqual([
      { node: SELF, have: bits(3, [0]) },
    ]);
    expect(later.holders).toHaveLength(21);
    expect(sources.calls).toHaveLength(1); // the fetch is still running
  });

  it('answers 404 ERR_TASK_NOT_FOUND for an unknown task without source', async () => {
    const { tracker, sources } = setup();

    const answer = tracker.sync(ID, body(1, { have: bits(3, [0]) }));

    await expect(answer).rejects.toBeInstanceOf(NotFoundError);
    await expect(answer).rejects.toMatchObject({ statusCode: 404, code: 'ERR_TASK_NOT_FOUND' });
    expect(sources.calls).toHaveLength(0);
  });

  it('passes on the fetch rejecting 404 (object gone) or 409 (version changed)', async () => {
    const { tracker, sources } = setup();

    sources.next = new NotFoundError('object gone');
    const gone = tracker.sync(ID, body(1, { source: source() }));
    await expect(gone).rejects.toMatchObject({ statusCode: 404, message: 'object gone' });
    sources.next = new VersionChangedError('the object changed');
    const changed = tracker.sync(ID, body(1, { source: source() }));
    await expect(changed).rejects.toMatchObject({ statusCode: 409, code: 'ERR_VERSION_CHANGED' });
    const third = await tracker.sync(ID, body(1, { source: source() }));

    expect(sources.calls).toHaveLength(3); // nothing cached from the failures
    expect(third.layout.pieceCount).toBe(3);
  });

  it('shows a later failure as sourceError while pieces lack a holder; retries later', async () => {
    let now = 1_000_000;
    const { tracker, sources } = setup({ clock: { now: () => now } });
    await tracker.sync(ID, body(1, { source: source() }));

    sources.fetches.get(ID)?.fail('backend reset');
    await flush();
    const failed = await tracker.sync(ID, body(2));
    const tooSoon = await tracker.sync(ID, body(2, { source: source() }));
    now += 1_000;
    const retried = await tracker.sync(ID, body(2, { source: source() }));

    expect(failed.sourceError).toBe('backend reset');
    expect(tooSoon.sourceError).toBe('backend reset');
    expect(sources.calls).toHaveLength(2);
    expect(retried.sourceError).toBeUndefined();
  });

  it('drops sourceError once other holders have every piece', async () => {
    const { tracker, sources } = setup();
    await tracker.sync(ID, body(1, { source: source() }));
    sources.fetches.get(ID)?.fail('backend reset');
    await flush();

    await tracker.sync(ID, body(3, { have: bits(3, [0, 1]) }));
    const partly = await tracker.sync(ID, body(2));
    await tracker.sync(ID, body(4, { have: bits(3, [2]) }));
    const covered = await tracker.sync(ID, body(2, { source: source() }));

    expect(partly.sourceError).toBe('backend reset');
    expect(covered.sourceError).toBeUndefined();
    expect(sources.calls).toHaveLength(1); // covered: no refetch
  });
});

describe('Tracker: long polls', () => {
  async function primed() {
    const { tracker, store } = setup();
    store.putPartial(ID, 10);
    const first = await tracker.sync(ID, body(1));
    return { tracker, store, since: first.revision };
  }

  it('wakes on our own piece landing', async () => {
    const { tracker, store, since } = await primed();

    const poll = watch(tracker.sync(ID, body(1, { since, waitMs: 5_000 })));
    await flush();
    expect(poll.settled).toBe(false);
    store.addPiece(ID, 0);
    tracker.pieceAdded(ID, 0);
    await flush();

    const answer = poll.value as SyncResponse;
    expect(answer.revision).toBeGreaterThan(since);
    expect(answer.holders).toEqual([{ node: SELF, have: bits(3, [0]) }]);
    expect(answer.layout.pieceDigests[0]).toBe(digestOf(0));
  });

  it("wakes on another holder's announce, not on the caller's own", async () => {
    const { tracker, since } = await primed();

    const poll = watch(tracker.sync(ID, body(1, { since, waitMs: 5_000, have: bits(3, [0]) })));
    await flush();
    const waitedAfterOwn = !poll.settled;
    await tracker.sync(ID, body(2, { have: bits(3, [1]) }));
    await flush();

    expect(waitedAfterOwn).toBe(true);
    expect((poll.value as SyncResponse).holders).toEqual([{ node: node(2), have: bits(3, [1]) }]);
  });

  it('answers the unchanged state after waitMs', async () => {
    vi.useFakeTimers();
    const { tracker, since } = await primed();

    const poll = watch(tracker.sync(ID, body(1, { since, waitMs: 5_000 })));
    await vi.advanceTimersByTimeAsync(4_999);
    const early = poll.settled;
    await vi.advanceTimersByTimeAsync(1);

    expect(early).toBe(false);
    expect(poll.value).toMatchObject({ revision: since, holders: [] });
  });

  it('answers when the signal aborts, and at once for a since it does not know', async () => {
    const { tracker, since } = await primed();
    const abort = new AbortController();

    const poll = watch(tracker.sync(ID, body(1, { since, waitMs: 5_000 }), abort.signal));
    await flush();
    const before = poll.settled;
    abort.abort();
    await flush();
    const older = await tracker.sync(ID, body(1, { since: since - 1, waitMs: 5_000 }));
    const foreign = await tracker.sync(ID, body(1, { since: since + 1_000, waitMs: 5_000 }));

    expect(before).toBe(false);
    expect(poll.value).toMatchObject({ revision: since });
    expect(older.revision).toBe(since);
    expect(foreign.revision).toBe(since);
  });

  it('close() answers every waiting poll', async () => {
    const { tracker, since } = await primed();

    const polls = [1, 2, 3].map((n) => watch(tracker.sync(ID, body(n, { since, waitMs: 5_000 }))));
    await flush();
    tracker.close();
    await flush();

    expect(polls.every((poll) => poll.settled && poll.value)).toBe(true);
  });
});

describe('Tracker: dropTask', () => {
  it('answers 410 to waiting polls and later syncs, until its TTL or revive()', async () => {
    let now = 0;
    const { tracker, store } = setup({ clock: { now: () => now }, goneTtlMs: 60_000 });
    store.putComplete(ID, 10);
    const { revision } = await tracker.sync(ID, body(1));

    const poll = tracker.sync(ID, body(1, { since: revision, waitMs: 5_000 }));
    await flush();
    tracker.dropTask(ID);

    await expect(poll).rejects.toBeInstanceOf(GoneError);
    const later = tracker.sync(ID, body(2, { layout: layoutOf(ID, 10) }));
    await expect(later).rejects.toMatchObject({ statusCode: 410, code: 'ERR_TASK_GONE' });
    now += 60_000;
    await expect(tracker.sync(ID, body(2))).resolves.toMatchObject({ holders: [{ node: SELF }] });
    tracker.dropTask(ID);
    tracker.revive(ID);
    await expect(tracker.sync(ID, body(2))).resolves.toBeDefined();
  });
});

describe('Tracker: dropTask during a source fetch', () => {
  it('answers 410 to the syncs waiting for the fetch and keeps no trace of the task', async () => {
    const { tracker, sources } = setup();

    const waiting = tracker.sync(ID, body(1, { source: source() }));
    tracker.dropTask(ID);

    await expect(waiting).rejects.toMatchObject({ statusCode: 410, code: 'ERR_TASK_GONE' });
    expect(sources.calls).toHaveLength(1);
    expect(tracker.versionsOfKey('b', 'k')).toEqual([]);
  });
});

describe('Tracker: versionsOfKey and pending versions', () => {
  it('lists the other versions of a key with their holders, never itself', async () => {
    const { tracker, store } = setup();
    const [a, b, c] = [taskIdOf('a'), taskIdOf('b'), taskIdOf('c')];
    await tracker.sync(a, body(1, { layout: layoutOf(a, 10) }));
    await tracker.sync(b, body(2, { layout: layoutOf(b, 10) }));
    await tracker.sync(b, body(3)); // a reader that has nothing yet: told too
    await tracker.sync(c, body(4, { layout: layoutOf(c, 10, 'other') }));
    store.putComplete(a, 10);

    expect(tracker.versionsOfKey('b', 'k', a)).toEqual([
      { taskId: b, holders: [node(2), node(3)] },
    ]);
    expect(tracker.versionsOfKey('b', 'k').map((v) => v.taskId)).toEqual([a, b]);
    expect(tracker.versionsOfKey('b', 'k', a)[0]?.holders).not.toContainEqual(SELF);
    expect(tracker.versionsOfKey('b', 'none')).toEqual([]);
  });

  it('remembers a pending version until cleared or pendingTtl', () => {
    let now = 0;
    const { tracker } = setup({ clock: { now: () => now }, pendingTtlMs: 1_000 });
    const version = { taskId: ID, metadata: metadataOf(10), holder: node(1) };

    tracker.setPending('b', 'k', version);
    const held = tracker.pending('b', 'k');
    tracker.clearPending('b', 'k');
    const cleared = tracker.pending('b', 'k');
    tracker.setPending('b', 'k', version);
    now += 1_000;

    expect(held).toEqual(version);
    expect(cleared).toBeUndefined();
    expect(tracker.pending('b', 'k')).toBeUndefined();
  });
});

describe('Tracker: memory', () => {
  it('forgets silent holders, then the task, after holderTtl', async () => {
    vi.useFakeTimers();
    const { tracker } = setup({ holderTtlMs: 10_000 });
    await tracker.sync(ID, body(1, { layout: layoutOf(ID, 10) }));

    await vi.advanceTimersByTimeAsync(5_000);
    const fresh = await tracker.sync(ID, body(2));
    await vi.advanceTimersByTimeAsync(6_000);
    const pruned = await tracker.sync(ID, body(2));
    await vi.advanceTimersByTimeAsync(20_000);

    expect(fresh.holders.map((h) => h.node.peerId)).toEqual(['peer-1']);
    expect(pruned.holders).toEqual([]);
    await expect(tracker.sync(ID, body(2))).rejects.toMatchObject({ statusCode: 404 });
    expect(tracker.versionsOfKey('b', 'k')).toEqual([]);
  });
});
