import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ObjectNotFoundError } from '../../../lib/core/errors.ts';
import { type IndexEntry, openObjectIndex } from '../../../lib/storage/object-index.ts';
import { fakeTaskId, useTempDirs } from './fixtures.ts';

const tempDir = useTempDirs();

function entry(n: number, overrides: Partial<IndexEntry> = {}): IndexEntry {
  return {
    taskId: fakeTaskId(n),
    contentLength: 100 * n,
    etag: `"etag-${n}"`,
    digest: `md5:${String(n).padStart(32, '0')}`,
    contentType: 'application/octet-stream',
    lastModified: new Date(Date.UTC(2026, 0, n)).toISOString(),
    state: 'pending',
    ...overrides,
  };
}

describe('object index', () => {
  it('persists sets and deletes across a reopen', async () => {
    const dataDir = await tempDir();
    const index = await openObjectIndex({ dataDir });
    await index.set('bucket', 'a/b.txt', entry(1));
    await index.set('bucket', 'weird key/ü/\n', entry(2));
    await index.set('other', 'a/b.txt', entry(3));
    await index.delete('other', 'a/b.txt');
    await index.delete('other', 'never-there');
    await index.close();

    const reopened = await openObjectIndex({ dataDir });

    expect(reopened.get('bucket', 'a/b.txt')).toEqual(entry(1));
    expect(reopened.get('bucket', 'weird key/ü/\n')).toEqual(entry(2));
    expect(reopened.get('other', 'a/b.txt')).toBeUndefined();
    expect(reopened.size).toBe(2);
    await reopened.close();
  });

  it('makes an entry visible only once it is durable', async () => {
    const index = await openObjectIndex({ dataDir: await tempDir() });
    const pending = index.set('b', 'k', entry(1));
    expect(index.get('b', 'k')).toBeUndefined();
    await pending;
    expect(index.get('b', 'k')).toEqual(entry(1));
    await index.close();
  });

  it('counts the keys sharing a task so copies keep it alive', async () => {
    const index = await openObjectIndex({ dataDir: await tempDir() });
    const t1 = entry(1).taskId;
    await index.set('b', 'src', entry(1));

    const copied = await index.copy('b', 'src', 'dst', {
      lastModified: '2026-02-01T00:00:00.000Z',
    });

    expect(copied).toEqual({});
    expect(index.refCount(t1)).toBe(2);
    expect(index.keysForTask(t1)).toEqual([
      { bucket: 'b', key: 'src' },
      { bucket: 'b', key: 'dst' },
    ]);
    expect(await index.delete('b', 'src')).toEqual({ previous: entry(1) });
    const overwritten = await index.set('b', 'dst', entry(2));
    expect(overwritten.orphanedTaskId).toBe(t1);
    expect(index.refCount(t1)).toBe(0);
    expect(
      (await index.set('b', 'dst', entry(2, { state: 'durable' }))).orphanedTaskId,
    ).toBeUndefined();
    await expect(index.copy('b', 'missing', 'x')).rejects.toBeInstanceOf(ObjectNotFoundError);
    await index.close();
  });

  it('survives a torn tail: skips the bad record and keeps appending cleanly', async () => {
    const dataDir = await tempDir();
    const index = await openObjectIndex({ dataDir });
    await index.set('b', 'one', entry(1));
    await index.set('b', 'two', entry(2));
    await index.close();
    const log = join(dataDir, 'index', 'index.log');
    await appendFile(log, '1234abcd {"op":"set","b":"b","k":"thr'); // crash mid-append

    const reopened = await openObjectIndex({ dataDir });
    await reopened.set('b', 'three', entry(3));
    await reopened.close();
    const again = await openObjectIndex({ dataDir });

    expect([...again.entries()].map((e) => e.key).sort()).toEqual(['one', 'three', 'two']);
    const lines = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
    expect(lines).toHaveLength(3);
    expect(lines.every((line) => line.endsWith('}'))).toBe(true);
    await again.close();
  });

  it('compacts the log when overwrites pile up', async () => {
    const dataDir = await tempDir();
    const index = await openObjectIndex({ dataDir, compactMinRecords: 10 });
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => index.set('b', 'hot', entry(1 + (i % 5)))),
    );
    for (let i = 0; i < 30; i++) await index.set('b', `k${i % 3}`, entry(10 + i));
    await index.close();

    const lines = (await readFile(join(dataDir, 'index', 'index.log'), 'utf8')).trim().split('\n');
    expect(lines.length).toBeLessThanOrEqual(10);
    const reopened = await openObjectIndex({ dataDir });
    expect(reopened.get('b', 'hot')).toEqual(entry(5));
    expect(reopened.get('b', 'k2')).toEqual(entry(39));
    expect(reopened.size).toBe(4);
    await reopened.close();
  });

  it('rejects keys it cannot store and writes after close', async () => {
    const index = await openObjectIndex({ dataDir: await tempDir() });
    await expect(index.set('b', 'a\0b', entry(1))).rejects.toThrow(/NUL/);
    await expect(index.set('b', 'k', entry(1, { taskId: '../x' }))).rejects.toThrow(/task id/);
    await index.close();
    await expect(index.set('b', 'k', entry(1))).rejects.toThrow(/closed/);
  });
});
