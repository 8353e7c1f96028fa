import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../../helpers/fault-proxy.ts';

// The fault proxy (test/helpers/fault-proxy.ts) in front of a tiny HTTP server on 127.0.0.1:
// which requests get which fault, and what the client sees of each.

const body = Buffer.alloc(64 * 1024, 7);
let server: Server;
let proxy: FaultProxy;
let upstreamRequests = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    upstreamRequests++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('no address');
  proxy = await startFaultProxy('127.0.0.1', address.port);
});

afterEach(() => {
  proxy.clear();
  proxy.reset();
  upstreamRequests = 0;
});

afterAll(async () => {
  await proxy?.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const get = (path = '/b/k', init: RequestInit = {}) =>
  fetch(`${proxy.url}${path}`, { ...init, signal: AbortSignal.timeout(5_000) });

describe('fault proxy', () => {
  it('passes requests through when no rule applies', async () => {
    const res = await get();
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(body.length);
    expect(proxy.counts()).toMatchObject({ pass: 1, error: 0 });
  });

  it('answers S3 XML errors itself for the next K matching requests', async () => {
    proxy.inject({ action: { kind: 'error', status: 500 }, method: 'PUT', count: 2 });
    const put = () => get('/b/k', { method: 'PUT', body: 'x'.repeat(10_000) });
    for (let i = 0; i < 2; i++) {
      const res = await put();
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toBe('application/xml');
      expect(await res.text()).toContain('<Code>InternalError</Code>');
    }
    expect((await put()).status).toBe(200);
    expect((await get()).status).toBe(200);
    expect(upstreamRequests).toBe(2);
    expect(proxy.counts()).toMatchObject({ error: 2, pass: 2 });
  });

  it('resets mid-request (upstream never sees it) and mid-response (after some body)', async () => {
    proxy.inject({ action: { kind: 'reset', phase: 'request' }, count: 1 });
    await expect(get()).rejects.toThrow();
    expect(upstreamRequests).toBe(0);
    proxy.inject({ action: { kind: 'reset', phase: 'response', afterBytes: 1000 }, count: 1 });
    const res = await get();
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
    expect(upstreamRequests).toBe(1);
    expect(proxy.counts().reset).toBe(2);
  });

  it('stalls for a while, or until clear()', async () => {
    proxy.inject({ action: { kind: 'stall', phase: 'request', ms: 300 }, count: 1 });
    const started = Date.now();
    expect((await get()).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);

    proxy.inject({ action: { kind: 'stall', phase: 'response' } });
    const held = get().then(async (res) => (await res.arrayBuffer()).byteLength);
    await expect.poll(() => proxy.stalled).toBe(1);
    await sleep(100);
    proxy.clear();
    expect(await held).toBe(body.length);
  });

  it('applies a rule with its probability', async () => {
    proxy.inject({ action: { kind: 'error' }, probability: 0 });
    for (let i = 0; i < 5; i++) expect((await get()).status).toBe(200);
    expect(proxy.counts().error).toBe(0);
  });
});
