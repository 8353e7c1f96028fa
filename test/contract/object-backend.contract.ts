import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectBackend } from '../../lib/backends/object-backend.ts';
import {
  BucketNotFoundError,
  NotFoundError,
  ObjectNotFoundError,
  RangeNotSatisfiableError,
} from '../../lib/core/errors.ts';
import { patternStream, readAll, sha256OfPattern, sha256OfStream } from '../helpers/streams.ts';

export interface BackendFixture {
  readonly backend: ObjectBackend;
  /** Creates a fresh, empty bucket through the backend and returns its name. */
  newBucket(): Promise<string>;
  /** Stops whatever the fixture started (servers, temp dirs). */
  close?(): Promise<void>;
}

const MiB = 1024 * 1024;

/**
 * The ObjectBackend contract, run against every adapter (fs, s3, oss). Each adapter's test file
 * calls this with a setup that builds the adapter against a real server or directory.
 */
export function testObjectBackend(name: string, setup: () => Promise<BackendFixture>): void {
  describe(`ObjectBackend contract: ${name}`, () => {
    let fixture: BackendFixture;
    let backend: ObjectBackend;
    let bucket: string;

    beforeAll(async () => {
      fixture = await setup();
      backend = fixture.backend;
      bucket = await fixture.newBucket();
    });
    afterAll(async () => {
      await fixture?.close?.();
    });

    const put = (key: string, body: string | Buffer, options = {}) =>
      backend.putObject(bucket, key, Readable.from([Buffer.from(body)]), {
        contentLength: Buffer.byteLength(body),
        ...options,
      });

    it('round-trips bytes and metadata through put, head and get', async () => {
      const body = 'hello dfstore\n';
      const digest = `md5:${createHash('md5').update(body).digest('hex')}`;
      const { etag } = await put('docs/hello.txt', body, {
        contentType: 'text/plain; charset=utf-8',
        contentDisposition: 'attachment; filename="hello.txt"',
        digest,
      });
      expect(etag).toMatch(/^".+"$/);

      const head = await backend.headObject(bucket, 'docs/hello.txt');
      expect(head).toMatchObject({
        key: 'docs/hello.txt',
        contentLength: body.length,
        contentType: 'text/plain; charset=utf-8',
        contentDisposition: 'attachment; filename="hello.txt"',
        digest,
        etag,
      });
      expect(head.lastModified).toBeInstanceOf(Date);
      expect(Math.abs(Date.now() - head.lastModified.getTime())).toBeLessThan(5 * 60_000);

      const got = await backend.getObject(bucket, 'docs/hello.txt');
      expect(got.metadata).toMatchObject({ contentLength: body.length, digest, etag });
      expect(got.range).toBeUndefined();
      expect((await readAll(got.body)).toString()).toBe(body);
    });

    it('keeps keys with spaces, unicode and reserved characters', async () => {
      const key = 'dir with space/ünïcødé 文件+%2F?#.bin';
      await put(key, 'odd key');
      expect((await backend.headObject(bucket, key)).key).toBe(key);
      expect((await readAll((await backend.getObject(bucket, key)).body)).toString()).toBe(
        'odd key',
      );
    });

    it('stores and serves a 0-byte object', async () => {
      await backend.putObject(bucket, 'empty', Readable.from([]), { contentLength: 0 });
      const head = await backend.headObject(bucket, 'empty');
      expect(head.contentLength).toBe(0);
      const got = await backend.getObject(bucket, 'empty');
      expect(await readAll(got.body)).toHaveLength(0);
    });

    it('streams a 64 MiB object of unknown length both ways, byte-identical', async () => {
      const size = 64 * MiB;
      await backend.putObject(bucket, 'big/64m.bin', patternStream(size, 7));
      const head = await backend.headObject(bucket, 'big/64m.bin');
      expect(head.contentLength).toBe(size);
      const got = await backend.getObject(bucket, 'big/64m.bin');
      expect(got.metadata.contentLength).toBe(size);
      expect(await sha256OfStream(got.body)).toBe(await sha256OfPattern(size, 7));
    });

    it('streams a 64 MiB object of known length with its digest', async () => {
      const size = 64 * MiB + 123;
      const digest = 'md5:0123456789abcdef0123456789abcdef';
      await backend.putObject(bucket, 'big/64m-known.bin', patternStream(size, 8), {
        contentLength: size,
        digest,
      });
      const got = await backend.getObject(bucket, 'big/64m-known.bin');
      expect(got.metadata).toMatchObject({ contentLength: size, digest });
      expect(await sha256OfStream(got.body)).toBe(await sha256OfPattern(size, 8));
    });

    describe('ranges', () => {
      const body = '0123456789abcdefghij';
      beforeAll(async () => {
        await put('range.txt', body);
      });
      const read = async (range: Parameters<ObjectBackend['getObject']>[2]) => {
        const got = await backend.getObject(bucket, 'range.txt', range);
        return { text: (await readAll(got.body)).toString(), got };
      };

      it('serves a-b', async () => {
        const { text, got } = await read({ range: { start: 2, end: 5 } });
        expect(text).toBe('2345');
        expect(got.range).toEqual({ start: 2, end: 5, length: 4 });
        expect(got.metadata.contentLength).toBe(body.length);
      });
      it('serves a- and clamps an end past the last byte', async () => {
        expect((await read({ range: { start: 15 } })).text).toBe('fghij');
        const { text, got } = await read({ range: { start: 18, end: 1000 } });
        expect(text).toBe('ij');
        expect(got.range).toEqual({ start: 18, end: 19, length: 2 });
      });
      it('serves a suffix -n', async () => {
        const { text, got } = await read({ range: { suffix: 3 } });
        expect(text).toBe('hij');
        expect(got.range).toEqual({ start: 17, end: 19, length: 3 });
        expect((await read({ range: { suffix: 500 } })).text).toBe(body);
      });
      it('rejects a range past the end', async () => {
        await expect(read({ range: { start: 20 } })).rejects.toBeInstanceOf(
          RangeNotSatisfiableError,
        );
      });
      it('serves a range of a large object without reading the rest', async () => {
        const got = await backend.getObject(bucket, 'big/64m.bin', {
          range: { start: 40 * MiB, end: 40 * MiB + 999 },
        });
        expect(await sha256OfStream(got.body)).toBe(
          await sha256OfPattern(64 * MiB, 7, 40 * MiB, 40 * MiB + 999),
        );
      });
    });

    describe('listing', () => {
      let listBucket: string;
      const keys = [
        'logs/2026/01.txt',
        'logs/2026/02.txt',
        'logs/2027/01.txt',
        'photos/a.jpg',
        'photos/b.jpg',
        'readme.md',
        'z',
      ];
      beforeAll(async () => {
        listBucket = await fixture.newBucket();
        for (const key of keys) {
          await backend.putObject(listBucket, key, Readable.from([Buffer.from(key)]), {
            contentLength: key.length,
          });
        }
      });

      it('lists every key in order with sizes and ETags', async () => {
        const page = await backend.listObjects(listBucket);
        expect(page.objects.map((o) => o.key)).toEqual(keys);
        expect(page.commonPrefixes).toEqual([]);
        expect(page.isTruncated).toBe(false);
        const first = page.objects[0];
        expect(first?.contentLength).toBe(keys[0]?.length);
        expect(first?.etag).toMatch(/^".+"$/);
        expect(first?.lastModified).toBeInstanceOf(Date);
      });

      it('rolls up common prefixes with a delimiter', async () => {
        const top = await backend.listObjects(listBucket, { delimiter: '/' });
        expect(top.commonPrefixes).toEqual(['logs/', 'photos/']);
        expect(top.objects.map((o) => o.key)).toEqual(['readme.md', 'z']);
        const logs = await backend.listObjects(listBucket, { prefix: 'logs/', delimiter: '/' });
        expect(logs.commonPrefixes).toEqual(['logs/2026/', 'logs/2027/']);
        expect(logs.objects).toEqual([]);
      });

      it('paginates with limit and marker across more than one page', async () => {
        const seen: string[] = [];
        let marker: string | undefined;
        let pages = 0;
        do {
          const page = await backend.listObjects(listBucket, { limit: 3, marker });
          pages++;
          expect(page.objects.length).toBeLessThanOrEqual(3);
          seen.push(...page.objects.map((o) => o.key));
          marker = page.isTruncated ? page.nextMarker : undefined;
          if (page.isTruncated) expect(page.nextMarker).toBeTruthy();
        } while (marker && pages < 10);
        expect(pages).toBe(3);
        expect(seen).toEqual(keys);
      });

      it('paginates prefixes and objects together under a delimiter', async () => {
        const first = await backend.listObjects(listBucket, { delimiter: '/', limit: 2 });
        expect([...first.commonPrefixes, ...first.objects.map((o) => o.key)]).toEqual([
          'logs/',
          'photos/',
        ]);
        expect(first.isTruncated).toBe(true);
        const rest = await backend.listObjects(listBucket, {
          delimiter: '/',
          marker: first.nextMarker,
        });
        expect(rest.commonPrefixes).toEqual([]);
        expect(rest.objects.map((o) => o.key)).toEqual(['readme.md', 'z']);
      });

      it('filters by prefix and starts after a marker', async () => {
        const page = await backend.listObjects(listBucket, { prefix: 'photos/' });
        expect(page.objects.map((o) => o.key)).toEqual(['photos/a.jpg', 'photos/b.jpg']);
        const after = await backend.listObjects(listBucket, { marker: 'photos/a.jpg' });
        expect(after.objects.map((o) => o.key)).toEqual(['photos/b.jpg', 'readme.md', 'z']);
      });
    });

    it('copies within a bucket, keeping bytes and metadata', async () => {
      const digest = 'md5:00112233445566778899aabbccddeeff';
      await put('copy/src.txt', 'copy me', { contentType: 'text/plain', digest });
      await backend.copyObject(bucket, 'copy/src.txt', 'copy/dst.txt');
      const head = await backend.headObject(bucket, 'copy/dst.txt');
      expect(head).toMatchObject({ contentLength: 7, contentType: 'text/plain', digest });
      expect(
        (await readAll((await backend.getObject(bucket, 'copy/dst.txt')).body)).toString(),
      ).toBe('copy me');
      await expect(backend.copyObject(bucket, 'copy/missing', 'copy/x')).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });

    it('overwrites an object with new bytes and metadata', async () => {
      await put('over.txt', 'first', { contentType: 'text/plain' });
      await put('over.txt', 'second!', { contentType: 'application/json' });
      const head = await backend.headObject(bucket, 'over.txt');
      expect(head).toMatchObject({ contentLength: 7, contentType: 'application/json' });
      expect((await readAll((await backend.getObject(bucket, 'over.txt')).body)).toString()).toBe(
        'second!',
      );
    });

    it('deletes idempotently', async () => {
      await put('gone.txt', 'bye');
      await backend.deleteObject(bucket, 'gone.txt');
      await expect(backend.headObject(bucket, 'gone.txt')).rejects.toBeInstanceOf(
        ObjectNotFoundError,
      );
      await backend.deleteObject(bucket, 'gone.txt');
      await backend.deleteObject(bucket, 'never-existed');
    });

    it('raises ObjectNotFoundError for a missing object', async () => {
      await expect(backend.headObject(bucket, 'missing')).rejects.toBeInstanceOf(
        ObjectNotFoundError,
      );
      await expect(backend.getObject(bucket, 'missing')).rejects.toBeInstanceOf(
        ObjectNotFoundError,
      );
    });

    it('raises not-found errors for a missing bucket', async () => {
      const missing = `missing-${Date.now().toString(36)}`;
      await expect(backend.getObject(missing, 'k')).rejects.toBeInstanceOf(BucketNotFoundError);
      await expect(backend.listObjects(missing)).rejects.toBeInstanceOf(BucketNotFoundError);
      await expect(backend.headObject(missing, 'k')).rejects.toBeInstanceOf(NotFoundError);
      await expect(
        backend.putObject(missing, 'k', Readable.from([Buffer.from('x')]), { contentLength: 1 }),
      ).rejects.toBeInstanceOf(BucketNotFoundError);
      expect(await backend.bucketExists(missing)).toBe(false);
    });

    it('serves a presigned GET to a plain HTTP client', async () => {
      await put('presigned/get.txt', 'signed bytes');
      const url = await backend.presignUrl(bucket, 'presigned/get.txt', {
        method: 'GET',
        expiresIn: 300,
      });
      expect(url).toMatch(/^https?:\/\//);
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('signed bytes');
      const ranged = await fetch(url, { headers: { range: 'bytes=7-' } });
      expect(ranged.status).toBe(206);
      expect(await ranged.text()).toBe('bytes');
    });

    it('accepts a presigned PUT from a plain HTTP client', async () => {
      const url = await backend.presignUrl(bucket, 'presigned/put.txt', {
        method: 'PUT',
        expiresIn: 300,
      });
      // A byte body: fetch adds no Content-Type, which OSS would include in the signature.
      const response = await fetch(url, { method: 'PUT', body: Buffer.from('uploaded via url') });
      expect(response.status).toBe(200);
      const got = await backend.getObject(bucket, 'presigned/put.txt');
      expect((await readAll(got.body)).toString()).toBe('uploaded via url');
    });

    it('creates, lists, checks and deletes buckets', async () => {
      const created = await fixture.newBucket();
      expect(await backend.bucketExists(created)).toBe(true);
      await backend.createBucket(created); // idempotent for the owner
      expect((await backend.listBuckets()).map((b) => b.name)).toContain(created);
      await backend.deleteBucket(created);
      expect(await backend.bucketExists(created)).toBe(false);
    });
  });
}
