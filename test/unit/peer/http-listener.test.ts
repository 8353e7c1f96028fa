import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, scrubUrls } from '../../../lib/observability/logger.ts';
import { type Listener, startListener } from '../../../lib/peer/http-listener.ts';

const listeners: Listener[] = [];
const blockers: Server[] = [];
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((listener) => listener.close(0)));
  await Promise.all(blockers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listen(app: Hono, start: number, end = start): Promise<Listener> {
  const listener = await startListener({
    name: 'test',
    app,
    tcpListen: { listen: '127.0.0.1', port: { start, end } },
  });
  listeners.push(listener);
  return listener;
}

/** Holds a free port; resolves with it. */
function block(): Promise<number> {
  const server = createServer();
  blockers.push(server);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}

const hello = () => new Hono().get('/', (c) => c.text('hello'));

describe('startListener', () => {
  it('listens on port 0 and reports the real port in its URL', async () => {
    const listener = await listen(hello(), 0);
    expect(listener.port).toBeGreaterThan(0);
    expect(listener.url).toBe(`http://127.0.0.1:${listener.port}`);
    expect(await (await fetch(listener.url)).text()).toBe('hello');
  });

  it('takes the next port of a range when one is in use, and fails past its end', async () => {
    const busy = await block();
    await expect(listen(hello(), busy)).rejects.toThrow(`cannot listen on 127.0.0.1:${busy}`);
    const listener = await listen(hello(), busy, busy + 20);
    expect(listener.port).toBeGreaterThan(busy);
  });

  it('lets an in-flight request finish on close, then refuses connections', async () => {
    let release: () => void = () => {};
    const app = new Hono().get('/slow', async (c) => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return c.text('done');
    });
    const listener = await listen(app, 0);
    const answer = fetch(`${listener.url}/slow`).then((res) => res.text());
    await new Promise((resolve) => setTimeout(resolve, 100));

    const closing = listener.close(5_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(fetch(listener.url)).rejects.toThrow();
    release();

    expect(await answer).toBe('done');
    expect(await closing).toBe(true);
  });

  it('destroys what is still running after the timeout', async () => {
    const app = new Hono().get('/never', () => new Promise<Response>(() => {}));
    const listener = await listen(app, 0);
    const failed = new Promise<string>((resolve) => {
      request(`${listener.url}/never`, (res) => res.resume())
        .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
        .end();
    });
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(await listener.close(200)).toBe(false);
    expect(await failed).toBe('ECONNRESET');
  });
});

describe('logger', () => {
  it('scrubs query strings and userinfo out of URLs', () => {
    expect(
      scrubUrls('GET https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&X-Amz-Date=1 failed'),
    ).toBe('GET https://b.s3.amazonaws.com/k?[redacted] failed');
    expect(scrubUrls('to https://dfstore:TOKEN@host/x')).toBe('to https://[redacted]@host/x');
  });

  it('writes JSON lines with redacted credentials and scrubbed errors', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    });
    const logger = createLogger({ level: 'info', base: { role: 'peer' }, destination });
    const err = new Error('fetch https://h/o?Signature=s3cr3t failed');
    logger.error({ err, headers: { authorization: 'Basic abc' }, secretAccessKey: 'SK' }, 'boom');

    const line = JSON.parse(lines[0] ?? '{}');
    expect(line).toMatchObject({ level: 'error', role: 'peer', msg: 'boom' });
    expect(line.err.message).toBe('fetch https://h/o?[redacted] failed');
    expect(line.headers.authorization).toBe('[redacted]');
    expect(line.secretAccessKey).toBe('[redacted]');
    expect(lines[0]).not.toContain('s3cr3t');
  });
});
