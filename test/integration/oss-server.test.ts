import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OssServer, startOssServer } from '../helpers/oss-server/server.ts';
import { readAll } from '../helpers/streams.ts';

// The project's OSS-protocol test server, checked with the real ali-oss client and plain fetch.
const credentials = { accessKeyId: 'LTAIserverkey01', accessKeySecret: 'server-test-secret' };
const bucket = 'oss-server-test';
let server: OssServer;

function client(overrides: Partial<OSS.Options> & { amendTimeSkewed?: number } = {}): OSS {
  const options = {
    endpoint: server.endpoint,
    sldEnable: true,
    bucket,
    ...credentials,
    ...overrides,
  };
  return new OSS(options as OSS.Options);
}

/** The rejection of `promise` as ali-oss reports it (`status`, `code`). */
async function failure(promise: Promise<unknown>): Promise<{ status?: number; code?: string }> {
  return promise.then(
    () => expect.fail('expected the request to fail'),
    (error: { status?: number; code?: string }) => ({ status: error.status, code: error.code }),
  );
}

beforeAll(async () => {
  server = await startOssServer(credentials);
  await client().putBucket(bucket);
  await client().put('hello.txt', Buffer.from('hello, oss'));
});
afterAll(async () => {
  await server?.close();
});

describe('OSS test server: signatures', () => {
  it('rejects a wrong secret with 403 SignatureDoesNotMatch', async () => {
    const wrong = client({ accessKeySecret: 'not-the-secret' });
    const expected = { status: 403, code: 'SignatureDoesNotMatch' };
    expect(await failure(wrong.get('hello.txt'))).toEqual(expected);
    // HEAD has no body: ali-oss reads the error from the x-oss-err header.
    expect(await failure(wrong.head('hello.txt'))).toEqual(expected);
  });

  it('rejects an unknown key id with 403 InvalidAccessKeyId', async () => {
    expect(await failure(client({ accessKeyId: 'LTAIunknown' }).get('hello.txt'))).toEqual({
      status: 403,
      code: 'InvalidAccessKeyId',
    });
  });

  it('rejects a request whose date is 20 minutes off with RequestTimeTooSkewed', async () => {
    const skewed = client({ amendTimeSkewed: -20 * 60_000 });
    expect(await failure(skewed.get('hello.txt'))).toEqual({
      status: 403,
      code: 'RequestTimeTooSkewed',
    });
  });

  it('answers an unsigned request with an OSS error document', async () => {
    const response = await fetch(`${server.endpoint}/${bucket}/hello.txt`);
    expect(response.status).toBe(403);
    expect(response.headers.get('x-oss-request-id')).toMatch(/^[0-9A-F]{24}$/);
    const xml = await response.text();
    expect(xml).toContain('<Code>AccessDenied</Code>');
    expect(xml).toContain(`<RequestId>${response.headers.get('x-oss-request-id')}</RequestId>`);
  });

  it('serves a presigned GET to plain fetch', async () => {
    const url = client().signatureUrl('hello.txt', { expires: 60 });
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('hello, oss');
  });

  it('rejects a tampered presigned URL', async () => {
    const url = new URL(client().signatureUrl('hello.txt', { expires: 60 }));
    const otherKey = new URL(url);
    otherKey.pathname = `/${bucket}/other.txt`;
    const longer = new URL(url);
    longer.searchParams.set('Expires', String(Number(url.searchParams.get('Expires')) + 3600));
    for (const tampered of [otherKey, longer]) {
      const response = await fetch(tampered);
      expect(response.status).toBe(403);
      expect(await response.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    }
    const put = await fetch(url, { method: 'PUT', body: Buffer.from('x') });
    expect(put.status).toBe(403);
  });

  it('rejects an expired presigned URL', async () => {
    const url = client().signatureUrl('hello.txt', { expires: -5 });
    const response = await fetch(url);
    expect(response.status).toBe(403);
    const xml = await response.text();
    expect(xml).toContain('<Code>AccessDenied</Code>');
    expect(xml).toContain('Request has expired');
  });

  it('verifies Content-MD5 and stores nothing on a mismatch', async () => {
    const put = client().put('md5.txt', Buffer.from('payload'), {
      headers: { 'Content-MD5': '1B2M2Y8AsgTpgAmY7PhCfg==' },
    });
    expect(await failure(put)).toEqual({ status: 400, code: 'InvalidDigest' });
    expect(await failure(client().get('md5.txt'))).toMatchObject({
      status: 404,
      code: 'NoSuchKey',
    });
  });
});

describe('OSS test server: objects', () => {
  it('answers HEAD of a missing key with a bodiless 404 and the error in x-oss-err', async () => {
    // @types/ali-oss omits HEAD, which ali-oss signs like any other verb.
    const options = { expires: 60, method: 'HEAD' as unknown as OSS.HTTPMethods };
    const url = client().signatureUrl('missing', options);
    const response = await fetch(url, { method: 'HEAD' });
    expect(response.status).toBe(404);
    const err = Buffer.from(response.headers.get('x-oss-err') ?? '', 'base64').toString();
    expect(err).toContain('<Code>NoSuchKey</Code>');
  });

  it('ignores an out-of-range Range by default and answers 416 under standard behavior', async () => {
    const get = (range: string, standard: boolean) =>
      client().getStream('hello.txt', {
        headers: { Range: range, ...(standard ? { 'x-oss-range-behavior': 'standard' } : {}) },
      });
    const lenient = await get('bytes=5-100', false);
    expect(lenient.res.status).toBe(200);
    expect((await readAll(lenient.stream)).toString()).toBe('hello, oss');
    const clamped = await get('bytes=5-100', true);
    expect(clamped.res.status).toBe(206);
    expect((clamped.res.headers as Record<string, string>)['content-range']).toBe('bytes 5-9/10');
    expect((await readAll(clamped.stream)).toString()).toBe(', oss');
    expect(await failure(get('bytes=10-', true))).toMatchObject({ status: 416 });
  });

  it('gives a simple upload its quoted upper-case MD5 as ETag', async () => {
    const { res } = await client().put('etag.txt', Buffer.from('abc'));
    expect((res.headers as Record<string, string>).etag).toBe('"900150983CD24FB0D6963F7D28E17F72"');
  });

  it('validates CompleteMultipartUpload as OSS does', async () => {
    const oss = client();
    const { uploadId } = await oss.initMultipartUpload('mp.bin');
    const small = await oss.uploadPart('mp.bin', uploadId, 1, Buffer.alloc(1000, 1), 0, 1000);
    const last = await oss.uploadPart('mp.bin', uploadId, 2, Buffer.alloc(10, 2), 0, 10);
    const complete = (parts: { number: number; etag: string }[]) =>
      failure(oss.completeMultipartUpload('mp.bin', uploadId, parts));
    const [one, two] = [
      { number: 1, etag: small.etag },
      { number: 2, etag: last.etag },
    ] as const;
    expect(await complete([one, two])).toMatchObject({ code: 'EntityTooSmall' });
    expect(await complete([{ number: 1, etag: '"00"' }])).toMatchObject({ code: 'InvalidPart' });
    const big = await oss.uploadPart(
      'mp.bin',
      uploadId,
      1,
      Buffer.alloc(100 * 1024, 1),
      0,
      100 * 1024,
    );
    const done = await oss.completeMultipartUpload('mp.bin', uploadId, [
      { number: 1, etag: big.etag },
      two,
    ]);
    expect(done.etag).toMatch(/^"[0-9A-F]{32}-2"$/);
    expect(await failure(oss.abortMultipartUpload('mp.bin', uploadId))).toMatchObject({
      status: 404,
      code: 'NoSuchUpload',
    });
  });

  it('lists with a delimiter and resumes after a returned common prefix', async () => {
    const oss = client();
    for (const key of ['dir/a', 'dir/b', 'dir0']) await oss.put(key, Buffer.from(key));
    const query = { prefix: 'dir', delimiter: '/', 'max-keys': 1 };
    const first = await oss.list(query, {});
    expect(first.prefixes).toEqual(['dir/']);
    expect(first.isTruncated).toBe(true);
    const rest = await oss.list({ ...query, marker: first.nextMarker }, {});
    expect(rest.prefixes).toBeNull();
    expect(rest.objects.map((object) => object.name)).toEqual(['dir0']);
  });

  it('refuses to delete a bucket that holds objects', async () => {
    expect(await failure(client().deleteBucket(bucket))).toMatchObject({
      status: 409,
      code: 'BucketNotEmpty',
    });
    expect(await failure(client().deleteBucket('no-such-bucket'))).toMatchObject({
      status: 404,
      code: 'NoSuchBucket',
    });
  });

  it('keeps objects in a given dataDir across restarts', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'oss-server-data-'));
    try {
      const first = await startOssServer({ ...credentials, dataDir });
      const before = client({ endpoint: first.endpoint });
      await before.putBucket(bucket);
      await before.put('kept.txt', Buffer.from('still here'), {
        headers: { 'x-oss-meta-digest': 'md5:1' },
      });
      await first.close();
      const second = await startOssServer({ ...credentials, dataDir });
      const after = client({ endpoint: second.endpoint });
      const { content, res } = await after.get('kept.txt');
      expect(String(content)).toBe('still here');
      expect((res.headers as Record<string, string>)['x-oss-meta-digest']).toBe('md5:1');
      await second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
