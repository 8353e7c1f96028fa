import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { goObjectPath } from '../helpers/go-dfstore-wire.ts';
import {
  expectGetBody,
  expectHttpDate,
  expectJsonError,
  goGet,
  goList,
  goPut,
  json,
  md5Digest,
  putAll,
  RFC3339,
  type Target,
} from './dfstore-protocol-target.ts';

interface GoMetadatas {
  CommonPrefixes: string[];
  Metadatas: Record<string, unknown>[];
}

const GO_METADATA_FIELDS = [
  'ContentDisposition',
  'ContentEncoding',
  'ContentLanguage',
  'ContentLength',
  'ContentType',
  'Digest',
  'ETag',
  'Key',
  'LastModifiedTime',
  'StorageClass',
];

const keysOf = (page: GoMetadatas) => page.Metadatas.map((m) => m.Key);

/** Ranged and filtered GETs, and `GET /buckets/:bucket/metadatas` (PROTOCOL.md §2, §4). */
export function describeReads(target: Target): void {
  describe('GET with a Range', () => {
    const size = 1000;
    const data = randomBytes(size);
    const keys = ['range/written-mode-0.bin', 'range/written-mode-1.bin'];

    beforeAll(async () => {
      for (const [mode, key] of keys.entries()) {
        const put = await goPut(target(), { key, data, mode, maxReplicas: 3 });
        expect(put.status, `PUT ${key}`).toBe(200);
      }
    });

    describe.each(keys)('of %s', (key) => {
      it.each([
        ['bytes=2-5', 2, 5],
        ['bytes=0-0', 0, 0],
        ['bytes=0-999', 0, 999],
        ['bytes=990-', 990, 999],
        ['bytes=-7', 993, 999],
        ['bytes=995-5000', 995, 999],
        ['bytes=-5000', 0, 999],
      ])('%s → 206 with Content-Range and exactly those bytes', async (range, start, end) => {
        const response = await goGet(target(), key, { range });
        expect(response.status).toBe(206);
        expect(response.headers['content-range']).toBe(`bytes ${start}-${end}/${size}`);
        expect(response.headers['content-length']).toBe(String(end - start + 1));
        expect(response.body.equals(data.subarray(start, end + 1))).toBe(true);
        expect(response.headers['content-type']).toBe('application/octet-stream');
        expect(response.headers.etag).toMatch(/^"[^"]+"$/);
        expectHttpDate(response.headers['last-modified']);
      });

      it.each(['bytes=1000-', 'bytes=1000-1005', 'bytes=5000-'])(
        '%s (start past the end) → 416 with Content-Range: bytes */size',
        async (range) => {
          const response = await goGet(target(), key, { range });
          expectJsonError(response, 416);
          expect(response.headers['content-range']).toBe(`bytes */${size}`);
        },
      );

      it.each([
        ['two ranges', 'bytes=0-1,4-5'],
        ['letters', 'bytes=abc'],
        ['end before start', 'bytes=5-2'],
        ['another unit', 'items=0-1'],
        ['no bounds', 'bytes=-'],
        ['nothing after bytes=', 'bytes='],
      ])('%s (%s) → 416 JSON', async (_, range) => {
        expectJsonError(await goGet(target(), key, { range }), 416);
      });
    });
  });

  describe('GET with ?filter=', () => {
    const data = Buffer.from('filtered read');
    beforeAll(async () => {
      const put = await goPut(target(), { key: 'filter/object', data, mode: 1, maxReplicas: 3 });
      expect(put.status).toBe(200);
    });

    it('accepts a filter (Go encodes & as %26) with 200 and the same bytes', async () => {
      const got = await goGet(target(), 'filter/object', { filter: 'Expires&Signature&ns' });
      expectGetBody(got, data);
    });

    it('accepts an empty filter with 200 and the same bytes', async () => {
      const t = target();
      const got = await t.http.send('GET', `${goObjectPath(t.bucket, 'filter/object')}?filter=`);
      expectGetBody(got, data);
    });
  });

  describe('GET /buckets/:bucket/metadatas', () => {
    const objects: Record<string, Buffer> = {
      'list/a.txt': Buffer.from('a'),
      'list/b.txt': Buffer.from('bb'),
      'list/c/d.txt': Buffer.from('ddd'),
      'list/c/e.txt': Buffer.from('eeee'),
    };
    const all = Object.keys(objects).sort();
    const many = Array.from({ length: 1001 }, (_, i) => `many/${String(i).padStart(4, '0')}`);

    beforeAll(async () => {
      await putAll(target(), objects);
      await putAll(target(), Object.fromEntries(many.map((key) => [key, Buffer.from(key)])), 16);
    });

    const list = async (query: Parameters<typeof goList>[1]) => {
      const response = await goList(target(), query);
      expect(response.status).toBe(200);
      return json(response) as GoMetadatas;
    };

    it('lists with Go field names, ContentLength a number, LastModifiedTime RFC 3339', async () => {
      const page = await list({ prefix: 'list/', limit: 1000 });
      expect(Object.keys(page).sort()).toEqual(['CommonPrefixes', 'Metadatas']);
      expect(page.CommonPrefixes).toEqual([]);
      expect(keysOf(page)).toEqual(all);
      for (const m of page.Metadatas) {
        const data = objects[m.Key as string] ?? Buffer.alloc(0);
        expect(Object.keys(m).sort()).toEqual(GO_METADATA_FIELDS);
        expect(m.ContentLength).toBe(data.length);
        expect(m.ETag).toMatch(/^"[^"]+"$/);
        expect(m.LastModifiedTime).toMatch(RFC3339);
        expect(Math.abs(Date.parse(m.LastModifiedTime as string) - Date.now())).toBeLessThan(
          15 * 60_000,
        );
        expect(m.StorageClass).toBe('STANDARD');
        // S3 and OSS listings carry no user metadata or content type: empty is allowed there.
        expect(['', md5Digest(data)]).toContain(m.Digest);
        for (const field of ['ContentDisposition', 'ContentEncoding', 'ContentLanguage']) {
          expect(m[field]).toBe('');
        }
        expect(['', 'application/octet-stream']).toContain(m.ContentType);
      }
    });

    it('groups keys below the delimiter into CommonPrefixes', async () => {
      const page = await list({ prefix: 'list/', delimiter: '/', limit: 1000 });
      expect(keysOf(page)).toEqual(['list/a.txt', 'list/b.txt']);
      expect(page.CommonPrefixes).toEqual(['list/c/']);
    });

    it('filters by prefix', async () => {
      expect(keysOf(await list({ prefix: 'list/c/', limit: 1000 }))).toEqual([
        'list/c/d.txt',
        'list/c/e.txt',
      ]);
      expect(keysOf(await list({ prefix: 'list/zzz', limit: 1000 }))).toEqual([]);
    });

    it('pages with limit 1 and marker (JuiceFS probes with limit 1)', async () => {
      const seen: string[] = [];
      let marker: string | undefined;
      for (let i = 0; i <= all.length; i++) {
        const page = await list({ prefix: 'list/', marker, limit: 1 });
        expect(page.Metadatas.length).toBeLessThanOrEqual(1);
        const key = keysOf(page)[0] as string | undefined;
        if (key === undefined) break;
        seen.push(key);
        marker = key;
      }
      expect(seen).toEqual(all);
    });

    it('returns up to 1000 entries when limit is absent (JuiceFS omits limit 0)', async () => {
      const page = await list({ prefix: 'many/' });
      expect(keysOf(page)).toEqual(many.slice(0, 1000));
      const rest = await list({ prefix: 'many/', marker: many[999] });
      expect(keysOf(rest)).toEqual(many.slice(1000));
    });

    it.each([1000, 1001, 5000])('treats limit %i as at most 1000', async (limit) => {
      expect(keysOf(await list({ prefix: 'many/', limit }))).toHaveLength(1000);
    });

    it.each(['abc', '10x', '1.5'])(
      'rejects a limit that is not an integer (%s) with 422 JSON',
      async (limit) => {
        expectJsonError(await goList(target(), { prefix: 'list/', limit }), 422);
      },
    );
  });
}
