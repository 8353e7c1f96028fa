import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SwarmRequest } from '../../../lib/peer/swarm-download.ts';
import {
  answer,
  bitmapOf,
  MiB,
  makeSource,
  readAll,
  SELF,
  type SourceTask,
  sha256,
  useSwarmWorld,
} from './swarm-fixtures.ts';

const world = useSwarmWorld();
/** 10 MiB: pieces of 4, 4 and 2 MiB. */
let three: SourceTask;
/** 18 MiB: five pieces. */
let five: SourceTask;

beforeAll(async () => {
  [three, five] = await Promise.all([makeSource(10 * MiB, 'three'), makeSource(18 * MiB, 'five')]);
});
afterAll(async () => {
  await Promise.all([three?.close(), five?.close()]);
});

function request(source: SourceTask, owners: SwarmRequest['owners']): SwarmRequest {
  return { taskId: source.taskId, bucket: 'b', key: 'k', version: 'md5:0', owners };
}

const never = () => new Promise<void>(() => {});

describe('SwarmDownloader: pieces from holders', () => {
  it('downloads from several holders, verifies every piece and announces itself', async () => {
    const holders = await Promise.all(['a', 'b', 'c'].map((id) => world.holder(three, id)));
    const tracker = await world.tracker(() => answer(three.layout, holders));
    const { swarm, store, counts } = await world.downloader();

    const download = await swarm.download(request(three, [tracker.node]));
    const body = await readAll(download.stream());
    await download.done;

    expect(sha256(body)).toBe(sha256(three.bytes));
    expect(download.layout).toEqual(three.layout);
    expect(store.stat(three.taskId)?.complete).toBe(true);
    expect(store.pinCount(three.taskId)).toBe(0);
    // Three pieces over three idle holders: one each.
    expect(holders.map((h) => h.requests)).toEqual([1, 1, 1]);
    expect(counts).toEqual({ p2pBytes: 10 * MiB, pieceFailures: 0 });
    expect(tracker.calls[0]).toMatchObject({
      node: SELF,
      have: '',
      source: { bucket: 'b', key: 'k', version: 'md5:0' },
    });
    expect(tracker.calls[0]?.since).toBeUndefined();
    await vi.waitFor(() => expect(tracker.calls.at(-1)?.have).toBe(bitmapOf(3, [0, 1, 2])));
  });

  it('refetches what a corrupting holder sent from another one and drops it after two', async () => {
    const good = await world.holder(five, 'good');
    const bad = await world.holder(five, 'bad');
    bad.corrupt = true;
    const tracker = await world.tracker(() => answer(five.layout, [good, bad]));
    const { swarm, counts } = await world.downloader({ concurrency: 2, perSource: 1 });

    const download = await swarm.download(request(five, [tracker.node]));
    await download.done;

    expect(sha256(await readAll(download.stream()))).toBe(sha256(five.bytes));
    expect(bad.requests).toBe(2);
    expect(good.requests).toBe(5);
    expect(counts).toEqual({ p2pBytes: 18 * MiB, pieceFailures: 2 });
  });

  it('completes from the others when a holder goes down mid-download', async () => {
    const up = await world.holder(five, 'up');
    const down = await world.holder(five, 'down');
    down.onDownload = () => {
      void down.stop();
      return never();
    };
    const tracker = await world.tracker(() => answer(five.layout, [up, down]));
    const { swarm } = await world.downloader();

    const download = await swarm.download(request(five, [tracker.node]));
    await download.done;

    expect(sha256(await readAll(download.stream()))).toBe(sha256(five.bytes));
    expect(down.requests).toBeGreaterThan(0);
    expect(up.requests).toBe(5);
  });

  it('counts a piece request past pieceTimeoutMs against its holder', async () => {
    const quick = await world.holder(three, 'quick');
    const stuck = await world.holder(three, 'stuck');
    stuck.onDownload = never;
    const tracker = await world.tracker(() => answer(three.layout, [quick, stuck]));
    const { swarm, counts } = await world.downloader({ pieceTimeoutMs: 1_000 });

    const download = await swarm.download(request(three, [tracker.node]));
    await download.done;

    expect(sha256(await readAll(download.stream()))).toBe(sha256(three.bytes));
    expect(quick.requests).toBe(3);
    expect(counts.pieceFailures).toBe(stuck.requests);
  });

  it('skips pieces the store already has and announces them', async () => {
    const holder = await world.holder(three, 'a');
    const tracker = await world.tracker(() => answer(three.layout, [holder]));
    const { swarm, store } = await world.downloader();
    const { contentLength, pieceSize, pieceDigests } = three.layout;
    const partial = await store.openPartial(three.taskId, {
      contentLength,
      pieceSize,
      pieceDigests,
    });
    await partial.writePiece(1, three.bytes.subarray(4 * MiB, 8 * MiB));
    await partial.close();

    const download = await swarm.download(request(three, [tracker.node]));
    await download.done;

    expect(holder.requests).toBe(2);
    expect(tracker.calls[0]?.have).toBe(bitmapOf(3, [1]));
    expect(sha256(await readAll(download.stream()))).toBe(sha256(three.bytes));
  });
});

describe('SwarmDownloader: streams and single flight', () => {
  it('streams a middle range in order as its pieces land', async () => {
    const holder = await world.holder(five, 'a');
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    holder.onDownload = () => gate;
    const tracker = await world.tracker(() => answer(five.layout, [holder]));
    const { swarm } = await world.downloader();
    const download = await swarm.download(request(five, [tracker.node]));

    const range = { start: 3 * MiB + 5, end: 13 * MiB + 7 };
    const middle = readAll(download.stream(range));
    const abandoned = download.stream();
    abandoned.destroy();
    open();

    expect((await middle).equals(five.bytes.subarray(range.start, range.end + 1))).toBe(true);
    await download.done;
    const tail = { start: 17 * MiB, end: 18 * MiB - 1 };
    expect((await readAll(download.stream(tail))).equals(five.bytes.subarray(17 * MiB))).toBe(true);
  });

  it('does not let a consumer that never reads hold back the download', async () => {
    const holder = await world.holder(five, 'a');
    const tracker = await world.tracker(() => answer(five.layout, [holder]));
    const { swarm } = await world.downloader();

    const download = await swarm.download(request(five, [tracker.node]));
    const idle = download.stream();
    await download.done;

    expect(holder.requests).toBe(5);
    expect(sha256(await readAll(idle))).toBe(sha256(five.bytes));
  });

  it('shares one download between concurrent callers, then answers from the store', async () => {
    const holder = await world.holder(three, 'a');
    const tracker = await world.tracker(() => answer(three.layout, [holder]));
    const { swarm } = await world.downloader();
    const wanted = request(three, [tracker.node]);

    const [first, second] = await Promise.all([swarm.download(wanted), swarm.download(wanted)]);
    await first.done;
    const calls = tracker.calls.length;
    const later = await swarm.download(wanted);

    expect(second).toBe(first);
    expect(holder.requests).toBe(3);
    await expect(later.done).resolves.toBeUndefined();
    expect(later.layout.pieceDigests).toEqual(three.layout.pieceDigests);
    expect(tracker.calls.length).toBe(calls);
    expect(sha256(await readAll(later.stream()))).toBe(sha256(three.bytes));
  });

  it('aborts a download: done and streams fail with the reason, the writer is closed', async () => {
    const holder = await world.holder(three, 'a');
    holder.onDownload = never;
    const tracker = await world.tracker(() => answer(three.layout, [holder]));
    const { swarm, store } = await world.downloader();
    const download = await swarm.download(request(three, [tracker.node]));
    const reading = expect(readAll(download.stream())).rejects.toThrow('evicted');

    swarm.abortTask(three.taskId, new Error('evicted'));

    await expect(download.done).rejects.toThrow('evicted');
    await reading;
    expect(store.pinCount(three.taskId)).toBe(0);
  });
});
