import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_BYTES } from '../../../lib/backends/fs-key-path.ts';
import type { ListObjectsOptions, ObjectBackend } from '../../../lib/backends/object-backend.ts';
import { type TempFsBackend, tempFsBackend } from '../../helpers/temp-fs-backend.ts';

const bytewise = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** S3 ListObjects v1 over an in-memory key list: the model the fs listing must match. */
function referenceList(keys: string[], options: ListObjectsOptions) {
  const { prefix = '', marker, delimiter, limit = 1000 } = options;
  const entries: { name: string; prefix: boolean }[] = [];
  for (const key of [...keys].sort(bytewise)) {
    if (!key.startsWith(prefix) || (marker && bytewise(key, marker) <= 0)) continue;
    const at = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    if (delimiter && at >= 0) {
      const common = key.slice(0, at + delimiter.length);
      if (marker && bytewise(common, marker) <= 0) continue;
      if (entries.at(-1)?.name !== common) entries.push({ name: common, prefix: true });
    } else {
      entries.push({ name: key, prefix: false });
    }
  }
  const page = entries.slice(0, limit);
  return {
    objects: page.filter((e) => !e.prefix).map((e) => e.name),
    commonPrefixes: page.filter((e) => e.prefix).map((e) => e.name),
    isTruncated: entries.length > limit,
  };
}

/** All pages, following nextMarker. */
async function listAll(backend: ObjectBackend, bucket: string, options: ListObjectsOptions) {
  const pages: { objects: string[]; commonPrefixes: string[]; isTruncated: boolean }[] = [];
  let marker = options.marker;
  for (;;) {
    const page = await backend.listObjects(bucket, { ...options, marker });
    pages.push({
      objects: page.objects.map((o) => o.key),
      commonPrefixes: page.commonPrefixes,
      isTruncated: page.isTruncated,
    });
    if (!page.isTruncated) return pages;
    expect(page.nextMarker).toBeTruthy();
    marker = page.nextMarker;
    if (pages.length > 500) throw new Error('listing does not terminate');
  }
}

function referenceAll(keys: string[], options: ListObjectsOptions) {
  const pages = [];
  let marker = options.marker;
  for (;;) {
    const page = referenceList(keys, { ...options, marker });
    pages.push(page);
    if (!page.isTruncated) return pages;
    const names = [...page.objects, ...page.commonPrefixes].sort(bytewise);
    marker = names.at(-1);
  }
}

/** Deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const long = 'p'.repeat(CHUNK_BYTES);
// Keys around the chunk boundary, where `-` (< `/`) and `0` (> `/`) must interleave with `/`.
const boundaryKeys = [
  long,
  `${long}-`,
  `${long}/`,
  `${long}/a`,
  `${long}0`,
  `${long}${long}`,
  `${long}${long}/x`,
  `${long}${long}-`,
  `${'p'.repeat(CHUNK_BYTES - 1)}/`,
  'p'.repeat(CHUNK_BYTES - 1),
  'p'.repeat(CHUNK_BYTES + 1),
];
const unicodeKeys = ['a', 'A', 'z', 'é', 'e\u0301', '文', '😀', '\uff21', 'a-b', 'a/b', 'a0', '~'];

function randomKeys(count: number): string[] {
  const next = random(42);
  const alphabet = ['a', 'b', '/', '-', '0', 'é', '😀', '.', '_'];
  const keys = new Set<string>();
  while (keys.size < count) {
    const length = 1 + Math.floor(next() * 8);
    let key = next() < 0.1 ? 'p'.repeat(CHUNK_BYTES - 2 + Math.floor(next() * 4)) : '';
    for (let i = 0; i < length; i++) key += alphabet[Math.floor(next() * alphabet.length)];
    if (key.split('/').some((segment) => segment === '.' || segment === '..')) continue;
    keys.add(key);
  }
  return [...keys];
}

describe('fs backend listing', () => {
  let fs: TempFsBackend;
  let backend: ObjectBackend;
  const bucket = 'list-bucket';
  const keys = [...new Set([...boundaryKeys, ...unicodeKeys, ...randomKeys(150)])];

  beforeAll(async () => {
    fs = await tempFsBackend();
    backend = fs.backend;
    await backend.createBucket(bucket);
    for (const key of keys) await backend.putObject(bucket, key, Readable.from([Buffer.from(key)]));
  });
  afterAll(async () => {
    await fs.remove();
  });

  it('orders mixed unicode and ASCII keys byte-wise, not by UTF-16 code unit', async () => {
    const local = await tempFsBackend();
    await local.backend.createBucket(bucket);
    for (const key of unicodeKeys) {
      await local.backend.putObject(bucket, key, Readable.from([Buffer.from(key)]));
    }
    const listed = (await local.backend.listObjects(bucket)).objects.map((o) => o.key);
    await local.remove();
    const expected = [...unicodeKeys].sort(bytewise);
    expect(expected).not.toEqual([...unicodeKeys].sort());
    expect(listed).toEqual(expected);
  });

  it('lists the whole bucket like the reference, with sizes', async () => {
    const page = await backend.listObjects(bucket);
    expect(page.objects.map((o) => o.key)).toEqual([...keys].sort(bytewise));
    for (const object of page.objects) {
      expect(object.contentLength).toBe(Buffer.byteLength(object.key));
    }
  });

  it('orders keys across the chunk boundary', async () => {
    const page = await backend.listObjects(bucket, { prefix: 'p'.repeat(CHUNK_BYTES - 1) });
    const expected = keys.filter((k) => k.startsWith('p'.repeat(CHUNK_BYTES - 1)));
    expect(page.objects.map((o) => o.key)).toEqual(expected.sort(bytewise));
  });

  const next = random(7);
  const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)] as T;
  const queries: ListObjectsOptions[] = [
    { limit: 7 },
    { delimiter: '/', limit: 3 },
    { delimiter: '-', limit: 5 },
    { delimiter: 'é', limit: 4 },
    { delimiter: `${long.slice(0, 10)}/`, limit: 2 },
    { prefix: long, delimiter: '/', limit: 1 },
    { prefix: `${long}/`, delimiter: '/' },
    { prefix: 'a/', delimiter: '/', limit: 2 },
    { prefix: 'zzz-nothing' },
    { marker: 'b', limit: 10 },
    { marker: `${long}/`, delimiter: '/' },
    { marker: '😀', delimiter: '/', limit: 3 },
  ];
  for (let i = 0; i < 20; i++) {
    const prefix = pick(['', 'a', 'a/', 'b', 'p', long, 'é', '/']);
    const query: ListObjectsOptions = {
      prefix,
      limit: 1 + Math.floor(next() * 9),
      ...(next() < 0.6 && { delimiter: pick(['/', '-', 'b', '0']) }),
      ...(next() < 0.3 && { marker: pick(keys) }),
    };
    queries.push(query);
  }

  it.each(queries.map((q) => [JSON.stringify(q).slice(0, 80), q] as const))(
    'paginates %s exactly like S3',
    async (_label, query) => {
      expect(await listAll(backend, bucket, query)).toEqual(referenceAll(keys, query));
    },
  );
});
