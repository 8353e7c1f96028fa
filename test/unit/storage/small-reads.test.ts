import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError } from '../../../lib/core/errors.ts';
import { BufferedBody } from '../../../lib/storage/buffered-body.ts';
import { preadFile } from '../../../lib/storage/pread.ts';
import { SmallObjectCache } from '../../../lib/storage/small-object-cache.ts';

describe('small reads', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dfstore-small-reads-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('preads a range, and fails on a file that ends first', async () => {
    const file = join(dir, 'data');
    await writeFile(file, Buffer.from('0123456789'));
    expect((await preadFile(file, 2, 5)).toString()).toBe('23456');
    await expect(preadFile(file, 8, 5)).rejects.toBeInstanceOf(IntegrityError);
    await expect(preadFile(join(dir, 'missing'), 0, 1)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a BufferedBody reads as a stream of its bytes', async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of new BufferedBody(Buffer.from('abc'))) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('abc');
    const empty: Buffer[] = [];
    for await (const chunk of new BufferedBody(Buffer.alloc(0))) empty.push(chunk as Buffer);
    expect(empty).toEqual([]);
  });

  it('the small-object cache keeps the most recently used within its budget', () => {
    const cache = new SmallObjectCache<object>(10);
    const [a, b, c] = [{}, {}, {}];
    cache.set(a, Buffer.alloc(4));
    cache.set(b, Buffer.alloc(4));
    expect(cache.get(a)).toBeDefined(); // a is now the most recent
    cache.set(c, Buffer.alloc(4)); // 12 > 10: b goes
    expect(cache.get(b)).toBeUndefined();
    expect(cache.get(a)).toBeDefined();
    expect(cache.get(c)).toBeDefined();
    expect(cache.bytes).toBe(8);
    cache.set(a, Buffer.alloc(11)); // over the budget on its own: not kept, a keeps its bytes
    expect(cache.get(a)?.length).toBe(4);
  });
});
