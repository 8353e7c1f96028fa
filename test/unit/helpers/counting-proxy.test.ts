import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CountingProxy, startCountingProxy } from '../../helpers/counting-proxy.ts';

// The counting proxy (test/helpers/counting-proxy.ts) in front of a tiny HTTP server on
// 127.0.0.1: what it relays, what it records, and pause/resume.

const blob = randomBytes(3 * 1024 * 1024 + 5);
let release: () => void = () => {};
let server: Server;
let proxy: CountingProxy;

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/blob') {
      res.writeHead(200, { 'content-length': String(blob.length), 'x-host': req.headers.host });
      if (req.method === 'HEAD') return res.end();
      return res.end(blob);
    }
    if (path === '/slow') {
      // The first bytes at once, the rest once the test releases them.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(1000, 1));
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return res.end(Buffer.alloc(24, 2));
    }
    if (req.method === 'PUT') {
      const body = await readBody(req);
      const echo = { host: req.headers.host, size: body.length, sha256: sha256(body) };
      return res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(echo));
    }
    res.writeHead(404).end('nope');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('no address');
  proxy = await startCountingProxy('127.0.0.1', address.port);
});

afterEach(() => proxy.reset());

afterAll(async () => {
  release();
  await proxy?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

describe('the counting proxy', () => {
  it('relays a GET byte for byte and records it, with the Host header unchanged', async () => {
    const res = await fetch(`${proxy.url}/blob?partNumber=1&x=y`);
    const body = Buffer.from(await res.arrayBuffer());

    expect(res.status).toBe(200);
    expect(sha256(body)).toBe(sha256(blob));
    expect(res.headers.get('x-host')).toBe(`127.0.0.1:${proxy.port}`);
    expect(proxy.requests()).toEqual([
      {
        method: 'GET',
        path: '/blob',
        query: 'partNumber=1&x=y',
        status: 200,
        bytes: blob.length,
        complete: true,
      },
    ]);
  });

  it('counts by method and path suffix; getBytes sums GET bodies only', async () => {
    await (await fetch(`${proxy.url}/blob`, { method: 'HEAD' })).arrayBuffer();
    await (await fetch(`${proxy.url}/blob`)).arrayBuffer();
    await (await fetch(`${proxy.url}/blob`)).arrayBuffer();
    await (await fetch(`${proxy.url}/missing`)).arrayBuffer();

    expect(proxy.count('GET', '/blob')).toBe(2);
    expect(proxy.count('head', 'blob')).toBe(1);
    expect(proxy.getBytes('/blob')).toBe(2 * blob.length);
    expect(proxy.requests().at(-1)).toMatchObject({ path: '/missing', status: 404, bytes: 4 });
    proxy.reset();
    expect(proxy.requests()).toEqual([]);
    expect(proxy.getBytes('/blob')).toBe(0);
  });

  it('streams a chunked request body through (no Content-Length)', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${proxy.url}/upload`, { method: 'PUT' }, async (res) =>
        resolve({ status: res.statusCode ?? 0, body: (await readBody(res)).toString() }),
      );
      req.on('error', reject);
      for (let offset = 0; offset < blob.length; offset += 256 * 1024) {
        req.write(blob.subarray(offset, offset + 256 * 1024));
      }
      req.end();
    });

    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.body)).toEqual({
      host: `127.0.0.1:${proxy.port}`,
      size: blob.length,
      sha256: sha256(blob),
    });
    expect(proxy.count('PUT', '/upload')).toBe(1);
  });

  it('streams a response as it comes (the first bytes before the end)', async () => {
    const res = await fetch(`${proxy.url}/slow`);
    const reader = res.body?.getReader();
    const first = await reader?.read();
    expect(first?.value?.length).toBeGreaterThan(0);
    expect(proxy.requests()[0]).toMatchObject({ status: 200, complete: false });

    release();
    let total = first?.value?.length ?? 0;
    for (let next = await reader?.read(); next && !next.done; next = await reader?.read()) {
      total += next.value.length;
    }
    expect(total).toBe(1024);
    await expect.poll(() => proxy.requests()[0]).toMatchObject({ bytes: 1024, complete: true });
  });

  it('pause() refuses new connections and cuts open ones; resume() serves on the same port', async () => {
    const port = proxy.port;
    const slow = await fetch(`${proxy.url}/slow`);
    const reader = slow.body?.getReader();
    await reader?.read();

    await proxy.pause();
    await expect(reader?.read()).rejects.toThrow();
    await expect(fetch(`${proxy.url}/blob`)).rejects.toThrow();
    release();

    await proxy.resume();
    expect(proxy.port).toBe(port);
    const res = await fetch(`${proxy.url}/blob`);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(blob));
  });
});
