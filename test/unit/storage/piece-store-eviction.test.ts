import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPieceStore, type PieceStore } from '../../../lib/storage/piece-store.ts';
import { readAll } from '../../helpers/streams.ts';
import {
  bytesOf,
  fakeTaskId,
  recordingLogger,
  sha256Hex,
  taskIdFor,
  useTempDirs,
} from './fixtures.ts';

const tempDir = useTempDirs();

function fakeClock(start = 1_000) {
  let now = start;
  return { now: () => now, tick: (ms = 1) => (now += ms) };
}

async function put(store: PieceStore, key: string, size = 1000, pin = false) {
  const writer = await store.beginImport();
  await writer.write([bytesOf(size, key.length + key.charCodeAt(0))]);
  return writer.commit(taskIdFor('b', key), { pin });
}

describe('piece store eviction', () => {
  it('evicts the least recently used tasks when a commit goes over capacity', async () => {
    const clock = fakeClock();
    const removed: Array<[string, string]> = [];
    const store = await openPieceStore({
      dataDir: await tempDir(),
      capacity: 3000,
      clock,
      onRemoved: (id, reason) => removed.push([id, reason]),
    });
    const a = await put(store, 'a');
    clock.tick();
    const b = await put(store, 'bb');
    clock.tick();
    const c = await put(store, 'ccc');
    clock.tick();
    await store.readPiece(a.meta.taskId, 0); // a is now more recent than b
    clock.tick();

    const d = await put(store, 'dddd');

    expect(store.stat(b.meta.taskId)).toBeUndefined();
    expect(removed).toEqual([[b.meta.taskId, 'evicted']]);
    for (const kept of [a, c, d]) expect(store.stat(kept.meta.taskId)?.complete).toBe(true);
    expect(store.usage()).toMatchObject({ usedBytes: 3000, taskCount: 3, overCapacityBytes: 0 });
    await store.close();
  });

  it('never evicts pinned tasks and reports the excess instead of failing', async () => {
    const clock = fakeClock();
    const logger = recordingLogger();
    const store = await openPieceStore({ dataDir: await tempDir(), capacity: 2000, clock, logger });
    const a = await put(store, 'a', 1000, true);
    clock.tick();
    const b = await put(store, 'bb', 1000);
    const releaseB = store.pin(b.meta.taskId);
    clock.tick();

    const c = await put(store, 'ccc', 1000, true);

    for (const kept of [a, b, c]) expect(store.stat(kept.meta.taskId)).toBeDefined();
    expect(store.usage()).toMatchObject({
      usedBytes: 3000,
      pinnedBytes: 3000,
      overCapacityBytes: 1000,
    });
    expect(logger.lines.some((l) => l.level === 'warn' && /over capacity/.test(l.msg ?? ''))).toBe(
      true,
    );

    releaseB();
    releaseB(); // idempotent
    expect(store.pinCount(b.meta.taskId)).toBe(0);
    const report = await store.evict();
    expect(report.evicted).toEqual([b.meta.taskId]);
    expect(store.usage().overCapacityBytes).toBe(0);
    a.unpin?.();
    c.unpin?.();
    await store.close();
  });

  it('keeps a task pinned while a read stream is open', async () => {
    const store = await openPieceStore({ dataDir: await tempDir(), capacity: 1500 });
    const a = await put(store, 'a');
    const stream = await store.createReadStream(a.meta.taskId);

    await put(store, 'bb'); // over capacity, but a is being read and b is newest

    expect(store.stat(a.meta.taskId)).toBeDefined();
    expect(await readAll(stream)).toHaveLength(1000);
    await expect.poll(() => store.pinCount(a.meta.taskId)).toBe(0);
    expect((await store.evict()).evicted).toEqual([a.meta.taskId]);
    await store.close();
  });

  it('defers remove() of a pinned task until its last pin is released', async () => {
    const store = await openPieceStore({ dataDir: await tempDir() });
    const a = await put(store, 'a', 1000, true);

    expect(await store.remove(a.meta.taskId)).toBe('deferred');
    expect(await readAll(await store.createReadStream(a.meta.taskId))).toHaveLength(1000);
    a.unpin?.();

    await expect.poll(() => store.stat(a.meta.taskId)).toBeUndefined();
    expect(await store.remove(a.meta.taskId)).toBe('absent');
    const b = await put(store, 'bb');
    expect(await store.remove(b.meta.taskId)).toBe('removed');
    await store.close();
  });

  it('evicts for piece writes too, and treats an abandoned partial task as evictable', async () => {
    const clock = fakeClock();
    const store = await openPieceStore({ dataDir: await tempDir(), capacity: 2500, clock });
    const a = await put(store, 'a');
    clock.tick();
    const data = bytesOf(2048, 5);
    const pieces = [data.subarray(0, 1024), data.subarray(1024)];
    const partialId = fakeTaskId(42);
    const partial = await store.openPartial(partialId, {
      contentLength: data.length,
      pieceSize: 1024,
      pieceDigests: pieces.map(sha256Hex),
    });
    await partial.writePiece(0, pieces[0] ?? Buffer.alloc(0));
    clock.tick();
    await partial.close(); // abandoned half-way: 1024 bytes, unpinned
    clock.tick();
    const b = await put(store, 'bb'); // 3024 > 2500: the LRU task (a) goes

    expect(store.stat(a.meta.taskId)).toBeUndefined();
    expect(store.stat(partialId)).toBeDefined();
    clock.tick();
    await put(store, 'ccc'); // 3024 > 2500 again: now the abandoned partial task is the LRU

    expect(store.stat(partialId)).toBeUndefined();
    expect(store.stat(b.meta.taskId)).toBeDefined();
    await store.close();
  });

  it('seeds the LRU order from meta.json mtimes after a restart', async () => {
    const dataDir = await tempDir();
    const first = await openPieceStore({ dataDir });
    const tasks = [await put(first, 'a'), await put(first, 'bb'), await put(first, 'ccc')];
    await first.close();
    const ages = [300, 100, 200]; // seconds ago: a is the oldest, then c, then b
    for (const [i, { meta }] of tasks.entries()) {
      const when = new Date(Date.now() - (ages[i] ?? 0) * 1000);
      const metaFile = join(dataDir, 'tasks', meta.taskId.slice(0, 3), meta.taskId, 'meta.json');
      await utimes(metaFile, when, when);
    }

    const second = await openPieceStore({ dataDir, capacity: 1000 });
    const report = await second.evict();

    expect(report.evicted).toEqual([tasks[0]?.meta.taskId, tasks[2]?.meta.taskId]);
    await second.close();
  });
});
