import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFsPresignApp } from '../../../lib/backends/fs-presign-app.ts';
import type { ObjectBackend, PresignOptions } from '../../../lib/backends/object-backend.ts';
import { type TempFsBackend, tempFsBackend } from '../../helpers/temp-fs-backend.ts';

const secret = 'unit-test-secret-0123456789';
const bucket = 'presign-bucket';

describe('fs presign app', () => {
  let now: Date;
  let fs: TempFsBackend;
  let backend: ObjectBackend;
  let host: Hono;
  const clock = () => now;

  beforeEach(async () => {
    now = new Date('2026-01-01T00:00:00Z');
    // Mounted below a path, as the peer daemon will mount it.
    fs = await tempFsBackend(
      { presign: { baseUrl: 'http://127.0.0.1:9/presign', secret } },
      { clock },
    );
    backend = fs.backend;
    await backend.createBucket(bucket);
    host = new Hono().route('/presign', createFsPresignApp(backend, { secret, clock }));
  });
  afterEach(async () => {
    await fs.remove();
  });

  const sign = (key: string, method: PresignOptions['method'], expiresIn = 60) =>
    backend.presignUrl(bucket, key, { method, expiresIn });

  async function expectForbidden(response: Response, reason: RegExp) {
    expect(response.status).toBe(403);
    const body = (await response.json()) as { errors: string; code: string };
    expect(body.code).toBe('ERR_FORBIDDEN');
    expect(body.errors).toMatch(reason);
  }

  it('signs URLs below baseUrl with the expiry from the clock', async () => {
    const url = new URL(await sign('dir/a b.txt', 'GET', 300));
    expect(url.pathname).toBe(`/presign/${bucket}/dir/a%20b.txt`);
    expect(url.searchParams.get('X-Dfstore-Method')).toBe('GET');
    expect(url.searchParams.get('X-Dfstore-Expires')).toBe(String(now.getTime() / 1000 + 300));
    expect(url.searchParams.get('X-Dfstore-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts a presigned PUT, then serves it through a presigned GET', async () => {
    const put = await host.request(await sign('up/loaded.json', 'PUT'), {
      method: 'PUT',
      body: '{"hello":"world"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(put.status).toBe(200);
    const etag = put.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);

    const get = await host.request(await sign('up/loaded.json', 'GET'));
    expect(get.status).toBe(200);
    expect(await get.text()).toBe('{"hello":"world"}');
    expect(Object.fromEntries(get.headers)).toMatchObject({
      'content-type': 'application/json',
      'content-length': '17',
      etag,
      'last-modified': now.toUTCString(),
      'accept-ranges': 'bytes',
    });
  });

  it('serves ranges with 206 and refuses unsatisfiable ones with 416', async () => {
    await host.request(await sign('r.txt', 'PUT'), { method: 'PUT', body: '0123456789' });
    const url = await sign('r.txt', 'GET');
    const ranged = await host.request(url, { headers: { range: 'bytes=2-4' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe('bytes 2-4/10');
    expect(ranged.headers.get('content-length')).toBe('3');
    expect(await ranged.text()).toBe('234');
    const beyond = await host.request(url, { headers: { range: 'bytes=10-' } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe('bytes */10');
  });

  it('answers HEAD with headers only', async () => {
    await host.request(await sign('h', 'PUT'), { method: 'PUT', body: 'four' });
    const head = await host.request(await sign('h', 'GET'), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('4');
    expect(await head.text()).toBe('');
  });

  it('keeps odd keys intact through the URL', async () => {
    const key = '/etc/passwd/%2e%2e/ü ?#+&=';
    const put = await host.request(await sign(key, 'PUT'), { method: 'PUT', body: 'odd' });
    expect(put.status).toBe(200);
    expect((await backend.headObject(bucket, key)).key).toBe(key);
    expect(await (await host.request(await sign(key, 'GET'))).text()).toBe('odd');
  });

  it('refuses a tampered signature, key or expiry', async () => {
    await host.request(await sign('t', 'PUT'), { method: 'PUT', body: 'x' });
    const url = new URL(await sign('t', 'GET'));
    const signature = url.searchParams.get('X-Dfstore-Signature') ?? '';
    const flipped = new URL(url);
    flipped.searchParams.set(
      'X-Dfstore-Signature',
      `${signature[0] === 'a' ? 'b' : 'a'}${signature.slice(1)}`,
    );
    await expectForbidden(await host.request(flipped.href), /signature/);
    const otherKey = new URL(url);
    otherKey.pathname = `/presign/${bucket}/other`;
    await expectForbidden(await host.request(otherKey.href), /signature/);
    const later = new URL(url);
    later.searchParams.set('X-Dfstore-Expires', String(now.getTime() / 1000 + 999_999));
    await expectForbidden(await host.request(later.href), /signature/);
    const short = new URL(url);
    short.searchParams.set('X-Dfstore-Signature', 'abc');
    await expectForbidden(await host.request(short.href), /signature/);
  });

  it('refuses an expired URL, a missing signature and the wrong method', async () => {
    const url = await sign('e', 'GET', 60);
    now = new Date(now.getTime() + 61_000);
    await expectForbidden(await host.request(url), /expired/);
    await expectForbidden(await host.request(url.split('?')[0] ?? ''), /missing/);
    const get = await sign('e', 'GET');
    await expectForbidden(await host.request(get, { method: 'PUT', body: 'x' }), /GET/);
    await expect(backend.headObject(bucket, 'e')).rejects.toThrow();
  });

  describe('part URLs', () => {
    const signPart = async (key: string, uploadId: string, partNumber: number) =>
      backend.presignUploadPart(bucket, key, uploadId, partNumber, { expiresInSeconds: 60 });

    it('stores a part and answers its ETag', async () => {
      const { uploadId } = await backend.createMultipartUpload(bucket, 'big.bin');
      const url = new URL(await signPart('big.bin', uploadId, 3));
      expect(url.searchParams.get('X-Dfstore-Upload-Id')).toBe(uploadId);
      expect(url.searchParams.get('X-Dfstore-Part-Number')).toBe('3');
      const put = await host.request(url.href, { method: 'PUT', body: 'part three' });
      expect(put.status).toBe(200);
      const etag = put.headers.get('etag') ?? '';
      expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
      await backend.completeMultipartUpload(bucket, 'big.bin', uploadId, [{ partNumber: 3, etag }]);
      expect((await backend.headObject(bucket, 'big.bin')).contentLength).toBe(10);
    });

    it('cannot be turned into an object GET or PUT, nor another part', async () => {
      const { uploadId } = await backend.createMultipartUpload(bucket, 'p');
      const url = new URL(await signPart('p', uploadId, 1));
      const asGet = new URL(url);
      asGet.searchParams.set('X-Dfstore-Method', 'GET');
      await expectForbidden(await host.request(asGet.href), /invalid/);
      const asObject = new URL(url);
      asObject.searchParams.delete('X-Dfstore-Upload-Id');
      asObject.searchParams.delete('X-Dfstore-Part-Number');
      await expectForbidden(
        await host.request(asObject.href, { method: 'PUT', body: 'x' }),
        /signature/,
      );
      const otherPart = new URL(url);
      otherPart.searchParams.set('X-Dfstore-Part-Number', '2');
      await expectForbidden(
        await host.request(otherPart.href, { method: 'PUT', body: 'x' }),
        /signature/,
      );
      const objectUrl = new URL(await sign('p', 'PUT'));
      objectUrl.searchParams.set('X-Dfstore-Upload-Id', uploadId);
      objectUrl.searchParams.set('X-Dfstore-Part-Number', '1');
      await expectForbidden(
        await host.request(objectUrl.href, { method: 'PUT', body: 'x' }),
        /signature/,
      );
    });

    it('answers 404 for an aborted upload and 501 from a backend without parts', async () => {
      const { uploadId } = await backend.createMultipartUpload(bucket, 'gone');
      const url = await signPart('gone', uploadId, 1);
      await backend.abortMultipartUpload(bucket, 'gone', uploadId);
      const late = await host.request(url, { method: 'PUT', body: 'x' });
      expect(late.status).toBe(404);
      expect(await late.json()).toMatchObject({ code: 'ERR_UPLOAD_NOT_FOUND' });

      // A backend other than fs (here: one without uploadPart) cannot take the part.
      const partless = { ...backend, uploadPart: undefined } as ObjectBackend;
      const other = new Hono().route('/presign', createFsPresignApp(partless, { secret, clock }));
      const response = await other.request(url, { method: 'PUT', body: 'x' });
      expect(response.status).toBe(501);
    });
  });

  it('answers 404 JSON for a missing object', async () => {
    const response = await host.request(await sign('missing', 'GET'));
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: 'ERR_OBJECT_NOT_FOUND' });
  });
});
