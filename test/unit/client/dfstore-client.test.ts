import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDfstoreClient } from '../../../lib/client/dfstore-client.ts';
import { parseEndpoint } from '../../../lib/client/endpoint.ts';
import { readAll } from '../../helpers/streams.ts';

const origin = 'http://127.0.0.1:65004';
let agent: MockAgent;

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
});
afterEach(async () => {
  await agent.close();
});

const client = (endpoint = origin, headers?: Record<string, string>) =>
  createDfstoreClient({ endpoint, dispatcher: agent, headers });

const headHeaders = {
  'content-length': '42',
  'content-type': 'text/plain',
  etag: '"abc123"',
  'x-dragonfly-object-meta-digest': 'md5:0123456789abcdef0123456789abcdef',
  'x-dragonfly-object-meta-last-modified-time': 'Tue, 02 Jan 2024 03:04:05 GMT',
  'x-dragonfly-object-meta-storage-class': 'STANDARD_IA',
  'content-disposition': 'attachment',
};

describe('endpoint', () => {
  it('turns userinfo into HTTP Basic auth and never shows the token', () => {
    const endpoint = parseEndpoint('https://dfstore:s%40cret@example.com:8443/');
    expect(endpoint).toEqual({
      origin: 'https://example.com:8443',
      basePath: '',
      authorization: `Basic ${Buffer.from('dfstore:s@cret').toString('base64')}`,
      display: 'https://***:***@example.com:8443',
    });
  });

  it.each([
    ['', 'dfstore requires parameter endpoint'],
    ['127.0.0.1:65004', 'invalid endpoint: parse "127.0.0.1:65004": invalid URI for request'],
    ['localhost:65004', 'invalid endpoint: parse "localhost:65004": invalid URI for request'],
    ['ftp://host', 'invalid endpoint: unsupported scheme "ftp", want http or https'],
  ])('rejects %j with %j', (value, message) => {
    expect(() => parseEndpoint(value)).toThrow(message);
  });

  it('sends the Basic header and configured headers to the endpoint', async () => {
    const auth = `Basic ${Buffer.from('dfstore:TOKEN').toString('base64')}`;
    agent
      .get('https://front.example')
      .intercept({
        path: '/healthy',
        method: 'GET',
        headers: (h) => h.authorization === auth && h['x-extra'] === '1',
      })
      .reply(200, '"OK"');
    const c = client('https://dfstore:TOKEN@front.example', { 'X-Extra': '1' });
    expect(await c.healthy()).toBe(true);
    expect(c.endpoint).toBe('https://***:***@front.example');
  });
});

describe('metadata', () => {
  it('reads HEAD headers into typed metadata, ETag from ETag (not Content-Type)', async () => {
    agent
      .get(origin)
      .intercept({ path: '/buckets/b/objects/dir/k%201', method: 'HEAD' })
      .reply(200, '', { headers: headHeaders });
    expect(await client().headObject('b', 'dir/k 1')).toEqual({
      key: 'dir/k 1',
      contentLength: 42,
      contentType: 'text/plain',
      contentDisposition: 'attachment',
      contentEncoding: undefined,
      contentLanguage: undefined,
      etag: '"abc123"',
      digest: 'md5:0123456789abcdef0123456789abcdef',
      lastModified: new Date('2024-01-02T03:04:05Z'),
      storageClass: 'STANDARD_IA',
    });
  });

  it('parses list pages with Go field names, tolerating nulls', async () => {
    agent
      .get(origin)
      .intercept({ path: '/buckets/b/metadatas?prefix=p%2F&delimiter=%2F', method: 'GET' })
      .reply(
        200,
        {
          CommonPrefixes: ['p/sub/'],
          Metadatas: [
            {
              Key: 'p/a',
              ContentDisposition: '',
              ContentEncoding: '',
              ContentLanguage: '',
              ContentLength: 7,
              ContentType: 'application/octet-stream',
              ETag: '"e"',
              Digest: 'md5:ff',
              LastModifiedTime: '2024-01-02T03:04:05.678Z',
              StorageClass: 'STANDARD',
            },
          ],
        },
        { headers: { 'content-type': 'application/json' } },
      );
    agent
      .get(origin)
      .intercept({ path: '/buckets/b/metadatas', method: 'GET' })
      .reply(200, { CommonPrefixes: null, Metadatas: null });
    const page = await client().listObjects('b', { prefix: 'p/', delimiter: '/' });
    expect(page.commonPrefixes).toEqual(['p/sub/']);
    expect(page.objects).toEqual([
      {
        key: 'p/a',
        contentLength: 7,
        contentType: 'application/octet-stream',
        contentDisposition: undefined,
        contentEncoding: undefined,
        contentLanguage: undefined,
        etag: '"e"',
        digest: 'md5:ff',
        lastModified: new Date('2024-01-02T03:04:05.678Z'),
        storageClass: 'STANDARD',
      },
    ]);
    expect(await client().listObjects('b')).toEqual({ commonPrefixes: [], objects: [] });
  });

  it('pages with the greatest key or prefix as marker until a short page', async () => {
    const meta = (Key: string) => ({ Key, ContentLength: 1, ETag: '', LastModifiedTime: '' });
    const pool = agent.get(origin);
    pool
      .intercept({ path: '/buckets/b/metadatas?delimiter=%2F&limit=2', method: 'GET' })
      .reply(200, { CommonPrefixes: ['b/'], Metadatas: [meta('a')] });
    pool
      .intercept({ path: '/buckets/b/metadatas?marker=b%2F&delimiter=%2F&limit=2', method: 'GET' })
      .reply(200, { CommonPrefixes: [], Metadatas: [meta('c'), meta('d')] });
    pool
      .intercept({ path: '/buckets/b/metadatas?marker=d&delimiter=%2F&limit=2', method: 'GET' })
      .reply(200, { CommonPrefixes: [], Metadatas: [meta('e')] });
    const keys: string[] = [];
    for await (const page of client().listAllObjects('b', { delimiter: '/', limit: 2 })) {
      keys.push(...page.commonPrefixes, ...page.objects.map((o) => o.key));
    }
    expect(keys).toEqual(['b/', 'a', 'c', 'd', 'e']);
  });

  it('reads GET /metadata', async () => {
    agent
      .get(origin)
      .intercept({ path: '/metadata', method: 'GET' })
      .reply(200, { Name: 's3', Region: 'us-east-1', Endpoint: 'https://s3' });
    expect(await client().metadata()).toEqual({
      name: 's3',
      region: 'us-east-1',
      endpoint: 'https://s3',
    });
  });
});

describe('getObject', () => {
  it('sends Range and filter, reports 206 with the whole object size and the range', async () => {
    agent
      .get(origin)
      .intercept({
        path: '/buckets/b/objects/k?filter=Expires%26Signature',
        method: 'GET',
        headers: { range: 'bytes=2-4' },
      })
      .reply(206, 'cde', {
        headers: { ...headHeaders, 'content-length': '3', 'content-range': 'bytes 2-4/42' },
      });
    const result = await client().getObject('b', 'k', {
      range: { start: 2, end: 4 },
      filter: 'Expires&Signature',
    });
    expect(result.status).toBe(206);
    expect(result.range).toEqual({ start: 2, end: 4, length: 3 });
    expect(result.metadata.contentLength).toBe(42);
    expect((await readAll(result.body)).toString()).toBe('cde');
  });

  it('follows a 307 to another origin without Authorization or custom headers, keeping Range', async () => {
    const presigned = 'https://bucket.s3.amazonaws.com';
    agent
      .get('https://front.example')
      .intercept({ path: '/buckets/b/objects/big', method: 'GET' })
      .reply(307, '', { headers: { location: `${presigned}/big?X-Amz-Signature=sig` } });
    agent
      .get(presigned)
      .intercept({
        path: '/big?X-Amz-Signature=sig',
        method: 'GET',
        headers: (h) =>
          h.authorization === undefined && h['x-extra'] === undefined && h.range === 'bytes=0-',
      })
      .reply(206, 'data', {
        headers: {
          'content-length': '4',
          'content-range': 'bytes 0-3/4',
          etag: '"s3etag"',
          'last-modified': 'Tue, 02 Jan 2024 03:04:05 GMT',
          'x-amz-meta-digest': 'md5:aa',
        },
      });
    const c = client('https://dfstore:TOKEN@front.example', { 'X-Extra': '1' });
    const result = await c.getObject('b', 'big', { range: 'bytes=0-' });
    expect((await readAll(result.body)).toString()).toBe('data');
    expect(result.metadata).toMatchObject({ etag: '"s3etag"', digest: 'md5:aa', contentLength: 4 });
  });

  it('keeps credentials on a same-origin redirect', async () => {
    const auth = `Basic ${Buffer.from('u:p').toString('base64')}`;
    const pool = agent.get('http://front.example');
    pool
      .intercept({ path: '/buckets/b/objects/k', method: 'GET' })
      .reply(302, '', { headers: { location: '/buckets/b/objects/k2' } });
    pool
      .intercept({
        path: '/buckets/b/objects/k2',
        method: 'GET',
        headers: (h) => h.authorization === auth,
      })
      .reply(200, 'ok', { headers: { 'content-length': '2' } });
    const result = await client('http://u:p@front.example').getObject('b', 'k');
    expect((await readAll(result.body)).toString()).toBe('ok');
  });

  it('refuses a redirect from https to http', async () => {
    agent
      .get('https://front.example')
      .intercept({ path: '/buckets/b/objects/k', method: 'GET' })
      .reply(307, '', { headers: { location: 'http://plain.example/k' } });
    await expect(client('https://front.example').getObject('b', 'k')).rejects.toThrow(
      'refusing to follow a redirect from https to http',
    );
  });
});

describe('writes', () => {
  it('copies with the copy header and a source_object_key form field', async () => {
    let body = '';
    agent
      .get(origin)
      .intercept({
        path: '/buckets/b/objects/dst%20key',
        method: 'PUT',
        headers: (h) => h['x-dragonfly-object-operation'] === 'copy',
        body: (b) => {
          body = Buffer.from(b).toString('utf8'); // undici hands over the Buffer we sent
          return true;
        },
      })
      .reply(200, '');
    await client().copyObject('b', 'src key', 'dst key');
    expect(body).toMatch(/name="source_object_key"\r\n\r\nsrc key\r\n/);
  });

  it('reports healthy false on a non-2xx answer', async () => {
    agent.get(origin).intercept({ path: '/healthy', method: 'GET' }).reply(503, '');
    expect(await client().healthy()).toBe(false);
  });
});
