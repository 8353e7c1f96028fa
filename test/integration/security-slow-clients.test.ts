import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Listener, startListener } from '../../lib/peer/http-listener.ts';
import { type PeerDaemon, startPeerDaemon } from '../helpers/peer-daemon.ts';
import { type TempFsBackend, tempFsBackend } from '../helpers/temp-fs-backend.ts';

// Slow clients (SECURITY.md "denial of service"): a client that stalls mid-headers or mid-body
// is disconnected within the configured bound; a slow upload that keeps moving is not, nor is a
// request whose body is complete while the server takes its time.

interface RawOutcome {
  /** The status line's code, 0 when the server closed without answering. */
  readonly status: number;
  /** ms from the first byte written until the server answered or closed. */
  readonly elapsedMs: number;
}

/**
 * Opens a connection, writes `chunks` with `gapMs` between them, then waits (up to `waitMs`) for
 * the server to answer or close.
 */
function rawExchange(origin: string, chunks: readonly string[], gapMs: number, waitMs: number) {
  const { hostname, port } = new URL(origin);
  return new Promise<RawOutcome>((resolve) => {
    const started = Date.now();
    let received = '';
    let settled = false;
    const socket = connect({ host: hostname, port: Number(port) });
    const done = () => {
      if (settled) return;
      settled = true;
      socket.destroy();
      const match = /^HTTP\/1\.1 (\d{3})/.exec(received);
      resolve({ status: match ? Number(match[1]) : 0, elapsedMs: Date.now() - started });
    };
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (/\r\n\r\n/.test(received)) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.setTimeout(waitMs, done);
    void (async () => {
      for (const chunk of chunks) {
        if (settled || socket.destroyed) return;
        socket.write(chunk);
        await sleep(gapMs);
      }
    })();
  });
}

/** Writes `text` on a fresh connection and resolves with everything read until the close. */
function rawResponse(origin: string, text: string): Promise<string> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve) => {
    let received = '';
    const socket = connect({ host: hostname, port: Number(port) });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    socket.on('close', () => resolve(received));
    socket.on('error', () => {});
    socket.setTimeout(5_000, () => socket.destroy());
    socket.write(text);
  });
}

const listeners: Listener[] = [];
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((listener) => listener.close(0)));
});

async function listen(app: Hono): Promise<Listener> {
  const listener = await startListener({
    name: 'test',
    app,
    tcpListen: { listen: '127.0.0.1', port: { start: 0, end: 0 } },
    timeouts: { headersTimeout: 1_000, bodyIdleTimeout: 1_000 },
  });
  listeners.push(listener);
  return listener;
}

/** An app whose PUT reads the whole body and answers its length. */
const echoLength = () =>
  new Hono()
    .put('/', async (c) => c.text(String((await c.req.arrayBuffer()).byteLength)))
    .onError((_, c) => c.text('aborted', 400));

describe('listener timeouts (headers 1 s, idle body 1 s)', () => {
  it('closes a connection that sends its headers and then stalls the body', async () => {
    const listener = await listen(echoLength());
    const head = 'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nfirst bytes';
    const outcome = await rawExchange(listener.url, [head], 0, 10_000);
    expect(outcome.status).toBe(0);
    expect(outcome.elapsedMs).toBeGreaterThanOrEqual(900);
    expect(outcome.elapsedMs).toBeLessThan(3_000);
  });

  it('answers 408 to a client that never finishes its headers (slowloris)', async () => {
    const listener = await listen(echoLength());
    const drip = ['PUT / HTTP/1.1\r\n', ...Array.from({ length: 40 }, (_, i) => `X-${i}: y\r\n`)];
    const outcome = await rawExchange(listener.url, drip, 200, 10_000);
    expect(outcome.status).toBe(408);
    expect(outcome.elapsedMs).toBeLessThan(3_000);
  });

  it('keeps a slow upload that keeps moving (a byte every 300 ms for 3 s)', async () => {
    const listener = await listen(echoLength());
    const head = 'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n';
    const outcome = await rawExchange(listener.url, [head, ...'0123456789'], 300, 10_000);
    expect(outcome.status).toBe(200);
    expect(outcome.elapsedMs).toBeGreaterThan(2_500);
  });

  it('does not cut a request whose body is complete while the handler takes 2.5 s', async () => {
    const app = new Hono().put('/', async (c) => {
      await c.req.arrayBuffer();
      await sleep(2_500);
      return c.text('done');
    });
    const listener = await listen(app);
    const head = 'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok';
    expect((await rawExchange(listener.url, [head], 0, 10_000)).status).toBe(200);
  });

  it('does not cut a body the handler has not read yet (the server is the slow side)', async () => {
    const app = new Hono().put('/', async (c) => {
      await sleep(2_500); // e.g. waiting for the key's lock
      return c.text(String((await c.req.arrayBuffer()).byteLength));
    });
    const listener = await listen(app);
    const body = 'x'.repeat(256 * 1024);
    const head = `PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    expect((await rawExchange(listener.url, [head + body], 0, 10_000)).status).toBe(200);
  });

  it('ignores request headers beyond the 100th', async () => {
    const app = new Hono().get('/', (c) => c.text(c.req.header('x-last') ?? 'absent'));
    const listener = await listen(app);
    const headers = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`x-h${i}`, 'v']));
    const response = await fetch(listener.url, { headers: { ...headers, 'x-last': 'seen' } });
    expect(await response.text()).toBe('absent');
  });
});

describe('requests the HTTP layer refuses still get a JSON error body', () => {
  it.each([
    ['a malformed request line', 400, 'ERR_BAD_REQUEST', 'GET /a b c\r\n\r\n'],
    ['an unknown method', 400, 'ERR_BAD_REQUEST', 'FOO / HTTP/1.1\r\nHost: x\r\n\r\n'],
    [
      'a backslash in the path',
      400,
      'ERR_BAD_REQUEST',
      'GET /a\\b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ],
    [
      'headers over 16 KiB',
      431,
      'ERR_HEADERS_TOO_LARGE',
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    ],
  ])('%s → %i %s', async (_, status, code, request) => {
    const listener = await listen(echoLength());
    const response = await rawResponse(listener.url, request);
    expect(response).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(response).toMatch(/content-type: application\/json/i);
    const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
    expect(body).toEqual({ errors: expect.any(String), code });
  });
});

describe('the daemon applies limits.headersTimeout and limits.bodyIdleTimeout', () => {
  let daemon: PeerDaemon;
  let fs: TempFsBackend;
  beforeAll(async () => {
    fs = await tempFsBackend();
    daemon = await startPeerDaemon({
      name: 'security-slow',
      backend: { name: 'fs', root: fs.root },
      extraConfig: { logLevel: 'info', limits: { headersTimeout: '1s', bodyIdleTimeout: '1s' } },
    });
    expect((await fetch(`${daemon.api}/buckets/slow-bucket`, { method: 'POST' })).status).toBe(200);
  });
  afterAll(async () => {
    await daemon?.dispose();
    await fs?.remove();
  });

  it('closes a PUT whose multipart body stalls, and keeps serving', async () => {
    const head = [
      'PUT /buckets/slow-bucket/objects/stalled HTTP/1.1',
      'Host: x',
      'Content-Type: multipart/form-data; boundary=b',
      'Content-Length: 100000',
      '',
      '--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nsome bytes',
    ].join('\r\n');
    const outcome = await rawExchange(daemon.api, [head], 0, 10_000);
    expect(outcome.status).toBe(0);
    expect(outcome.elapsedMs).toBeLessThan(4_000);
    expect((await fetch(`${daemon.api}/healthy`)).status).toBe(200);
    const head404 = await fetch(`${daemon.api}/buckets/slow-bucket/objects/stalled`, {
      method: 'HEAD',
    });
    expect(head404.status).toBe(404);
  });

  it('closes a piece-server connection that never finishes its headers', async () => {
    const drip = ['GET /healthy HTTP/1.1\r\n', ...Array.from({ length: 40 }, () => 'X-a: b\r\n')];
    const outcome = await rawExchange(daemon.pieces, drip, 200, 10_000);
    expect(outcome.status).toBe(408);
    expect(outcome.elapsedMs).toBeLessThan(4_000);
    expect((await fetch(`${daemon.pieces}/healthy`)).status).toBe(200);
  });
});
