import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, GoneError, NotFoundError } from '../../../lib/core/errors.ts';
import {
  NoTrackerError,
  type SwarmRequest,
  TrackersFailedError,
} from '../../../lib/peer/swarm-download.ts';
import {
  answer,
  deadNode,
  MiB,
  makeSource,
  readAll,
  type SourceTask,
  sha256,
  useSwarmWorld,
} from './swarm-fixtures.ts';

const world = useSwarmWorld();
/** 10 MiB: pieces of 4, 4 and 2 MiB. */
let three: SourceTask;

beforeAll(async () => {
  three = await makeSource(10 * MiB, 'three');
});
afterAll(async () => {
  await three?.close();
});

function request(owners: SwarmRequest['owners'], extra: Partial<SwarmRequest> = {}): SwarmRequest {
  return { taskId: three.taskId, bucket: 'b', key: 'k', version: 'md5:0', owners, ...extra };
}

describe('SwarmDownloader: trackers', () => {
  it('syncs with the next owner when the first is unreachable, and sticks to it', async () => {
    const holder = await world.holder(three, 'a');
    const tracker = await world.tracker(() => answer(three.layout, [holder]));
    const { swarm } = await world.downloader();

    const download = await swarm.download(request([await deadNode('dead'), tracker.node]));
    await download.done;

    expect(sha256(await readAll(download.stream()))).toBe(sha256(three.bytes));
    expect(tracker.calls.length).toBeGreaterThan(0);
  });

  it('rejects NoTrackerError when every owner is unreachable or failing', async () => {
    const failing = await world.tracker(() => 503);
    const { swarm, store } = await world.downloader();

    const attempt = swarm.download(request([await deadNode('dead'), failing.node]));

    await expect(attempt).rejects.toBeInstanceOf(NoTrackerError);
    expect(failing.calls.length).toBe(1);
    expect(store.stat(three.taskId)).toBeUndefined();
  });

  it.each([
    [404, NotFoundError],
    [409, ConflictError],
    [410, GoneError],
  ])(
    'turns a tracker answering %i into its error, without asking the next owner',
    async (status, type) => {
      const refusing = await world.tracker(() => status);
      const next = await world.tracker(() => answer(three.layout, []));
      const { swarm } = await world.downloader();

      const attempt = swarm.download(request([refusing.node, next.node]));

      await expect(attempt).rejects.toBeInstanceOf(type);
      expect(next.calls).toEqual([]);
    },
  );

  it('moves to the next owner mid-download, sending source again and keeping its pieces', async () => {
    const holder = await world.holder(three, 'a');
    const first = await world.tracker((call) =>
      call === 1 ? answer(three.layout, [{ node: holder.node, have: [0] }]) : 500,
    );
    const second = await world.tracker(() => answer(three.layout, [holder]));
    const { swarm } = await world.downloader();

    const download = await swarm.download(request([first.node, second.node]));
    await download.done;

    expect(sha256(await readAll(download.stream()))).toBe(sha256(three.bytes));
    expect(holder.requests).toBe(3);
    expect(second.calls[0]?.source).toEqual({ bucket: 'b', key: 'k', version: 'md5:0' });
    expect(second.calls[0]?.since).toBeUndefined();
  });

  it('fails the download when every owner fails mid-download', async () => {
    const only = await world.tracker((call) => (call === 1 ? answer(three.layout, []) : 500));
    const { swarm } = await world.downloader();
    const download = await swarm.download(request([only.node]));
    const reading = expect(readAll(download.stream())).rejects.toThrow(TrackersFailedError);

    await expect(download.done).rejects.toBeInstanceOf(TrackersFailedError);
    await reading;
  });

  it("tries the next owner when the first one's back-to-source failed and nobody holds pieces", async () => {
    const holder = await world.holder(three, 'a');
    const failed = await world.tracker(() =>
      answer(three.layout, [], { sourceError: 'backend answered 503' }),
    );
    const good = await world.tracker(() => answer(three.layout, [holder]));
    const { swarm } = await world.downloader();

    const download = await swarm.download(request([failed.node, good.node]));
    await download.done;

    expect(failed.calls.length).toBe(1);
    expect(holder.requests).toBe(3);
  });

  it('long-polls with since and waitMs, and leaves source out for a pending version', async () => {
    const holder = await world.holder(three, 'a');
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    holder.onDownload = () => gate;
    const tracker = await world.tracker((call) => ({
      ...answer(three.layout, [holder]),
      revision: call,
    }));
    const { swarm } = await world.downloader({ syncWaitMs: 40 });

    const download = await swarm.download(request([tracker.node], { allowSource: false }));
    while (tracker.calls.length < 3) await new Promise((resolve) => setTimeout(resolve, 10));
    open();
    await download.done;

    expect(tracker.calls.every((call) => call.source === undefined)).toBe(true);
    expect(tracker.calls[0]).not.toHaveProperty('since');
    expect(tracker.calls[1]).toMatchObject({ since: 1, waitMs: 40 });
    expect(tracker.calls[2]).toMatchObject({ since: 2, waitMs: 40 });
  });

  it('gives up after stallTimeoutMs without progress, failing its streams', async () => {
    const tracker = await world.tracker(() => answer(three.layout, []));
    const { swarm, store } = await world.downloader({ stallTimeoutMs: 200 });
    const download = await swarm.download(request([tracker.node]));
    const reading = expect(readAll(download.stream())).rejects.toThrow(/no progress/);

    await expect(download.done).rejects.toThrow(/no progress in 200 ms/);
    await reading;
    expect(store.pinCount(three.taskId)).toBe(0);
  });

  it('fetches pieces only once later syncs filled in their digests', async () => {
    const holder = await world.holder(three, 'a');
    const digests = three.layout.pieceDigests;
    const known = (n: number) => digests.map((digest, i) => (i < n ? digest : ''));
    let syncsBeforeFirstFetch = 0;
    holder.onDownload = async () => {
      syncsBeforeFirstFetch ||= tracker.calls.length;
    };
    const tracker = await world.tracker((call) => ({
      ...answer({ ...three.layout, pieceDigests: known(call - 1) }, [holder]),
      revision: call,
    }));
    const { swarm } = await world.downloader();

    const download = await swarm.download(request([tracker.node]));
    await download.done;

    expect(download.layout.pieceDigests).toEqual(['', '', '']);
    expect(syncsBeforeFirstFetch).toBeGreaterThanOrEqual(2);
    expect(holder.requests).toBe(3);
    expect(sha256(await readAll(download.stream()))).toBe(sha256(three.bytes));
  });
});
