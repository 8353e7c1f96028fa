import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  BufferPool,
  exactly,
  MAX_PARTS,
  partSizeFor,
  pooledParts,
  uploadPartsConcurrently,
} from '../../../lib/backends/part-pump.ts';
import { ValidationError } from '../../../lib/core/errors.ts';

const bytes = (n: number, seed = 0) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i + seed) & 0xff));

describe('pooledParts', () => {
  it('re-chunks any chunking into exact parts, the last one shorter', async () => {
    const source = Readable.from([bytes(3), bytes(10, 3), bytes(0), bytes(4, 13)]);
    const pool = new BufferPool(5, 10);
    const parts: Buffer[] = [];
    for await (const part of pooledParts(source, pool, 5)) {
      parts.push(Buffer.from(part)); // copy: the pool reuses buffers
      pool.release(part);
    }
    expect(parts.map((p) => p.length)).toEqual([5, 5, 5, 2]);
    expect(Buffer.concat(parts)).toEqual(Buffer.concat([bytes(3), bytes(10, 3), bytes(4, 13)]));
  });

  it('reuses pooled buffers instead of allocating one per part', async () => {
    const pool = new BufferPool(4, 2);
    const seen = new Set<ArrayBufferLike>();
    for await (const part of pooledParts(Readable.from([bytes(40)]), pool, 4)) {
      seen.add(part.buffer);
      pool.release(part);
    }
    expect(seen.size).toBe(1);
  });
});

describe('uploadPartsConcurrently', () => {
  it('keeps at most `parallel` parts in flight and returns them in order', async () => {
    const pool = new BufferPool(4, 3);
    let inFlight = 0;
    let maxInFlight = 0;
    const uploaded = new Map<number, string>();
    const done = await uploadPartsConcurrently(pooledParts(Readable.from([bytes(37)]), pool, 4), {
      parallel: 2,
      pool,
      uploadPart: async (n, body) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        uploaded.set(n, body.toString('hex'));
        await new Promise((r) => setTimeout(r, (10 - n) % 4));
        inFlight--;
        return `etag-${n}`;
      },
    });
    expect(maxInFlight).toBe(2);
    expect(done.map((p) => p.partNumber)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(done[9]?.etag).toBe('etag-10');
    expect(uploaded.get(10)).toBe(bytes(37).subarray(36).toString('hex'));
  });

  it('stops at the first failure and rethrows it after in-flight parts settle', async () => {
    const pool = new BufferPool(4, 3);
    const started: number[] = [];
    await expect(
      uploadPartsConcurrently(pooledParts(Readable.from([bytes(400)]), pool, 4), {
        parallel: 2,
        pool,
        uploadPart: async (n) => {
          started.push(n);
          if (n === 3) throw new Error('part 3 failed');
          return 'e';
        },
      }),
    ).rejects.toThrow('part 3 failed');
    expect(started.length).toBeLessThan(10);
  });
});

describe('partSizeFor and exactly', () => {
  it('grows the part size only when a known length needs more than 10,000 parts', () => {
    const MiB = 1024 * 1024;
    expect(partSizeFor(undefined, 6 * MiB)).toBe(6 * MiB);
    expect(partSizeFor(6 * MiB * MAX_PARTS, 6 * MiB)).toBe(6 * MiB);
    const grown = partSizeFor(100 * 1024 * MiB, 6 * MiB);
    expect(grown % MiB).toBe(0);
    expect(grown * MAX_PARTS).toBeGreaterThanOrEqual(100 * 1024 * MiB);
  });

  it('rejects a body shorter or longer than declared', async () => {
    const drain = async (chunks: Buffer[], expected: number) => {
      for await (const _ of exactly(Readable.from(chunks), expected)) {
        // consume
      }
    };
    await expect(drain([bytes(3)], 4)).rejects.toBeInstanceOf(ValidationError);
    await expect(drain([bytes(5)], 4)).rejects.toBeInstanceOf(ValidationError);
    await expect(drain([bytes(2), bytes(2)], 4)).resolves.toBeUndefined();
  });
});
