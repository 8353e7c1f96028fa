import { randomBytes } from 'node:crypto';
import { type IncomingMessage, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type FunctionHost, startFunctionHost } from '../../../lib/local/function-host.ts';
import {
  type FunctionUrlEvent,
  isTextContentType,
  type LambdaContext,
} from '../../../lib/local/function-url.ts';
import { clfTime } from '../../../lib/local/function-url-event.ts';

// The local function host on a free loopback port with a tiny handler that records what it got
// and answers what the test says.

interface Invocation {
  readonly event: FunctionUrlEvent;
  readonly context: LambdaContext;
  readonly remainingMs: number;
}

let host: FunctionHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

async function withHost(
  answer: (event: FunctionUrlEvent) => unknown = () => ({ statusCode: 204 }),
  options: { requestBytes?: number; responseBytes?: number; timeoutMs?: number } = {},
) {
  const calls: Invocation[] = [];
  host = await startFunctionHost({
    name: 'tiny',
    port: 0,
    limits: { requestBytes: options.requestBytes, responseBytes: options.responseBytes },
    timeoutMs: options.timeoutMs ?? 30_000,
    handler: async (event, context) => {
      calls.push({ event, context, remainingMs: context.getRemainingTimeInMillis() });
      return answer(event);
    },
  });
  return { host, calls, only: () => calls[0] as Invocation };
}

/** A raw request: exact header lines (repeated names stay repeated), the body in one write. */
function raw(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string | string[]> },
  body?: Buffer,
): Promise<{ res: IncomingMessage; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: options.method ?? 'GET', ...options });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ res, body: Buffer.concat(chunks) }));
    });
    req.end(body);
  });
}

const KiB = 1024;

describe('request → function URL event', () => {
  it('maps a GET with a query, cookies and a repeated header exactly as Lambda does', async () => {
    const { host, only } = await withHost();
    const { res } = await raw(host.port, {
      path: '/a%20b/c.txt?x=1&x=2&y=%C3%A9&flag',
      headers: { 'user-agent': 'probe/1', cookie: 'a=1; b=2', 'x-multi': ['1', '2'] },
    });

    expect(res.statusCode).toBe(204);
    const { event, context } = only();
    const requestId = res.headers['x-amzn-requestid'];
    expect(Object.keys(event)).toEqual([
      'version',
      'routeKey',
      'rawPath',
      'rawQueryString',
      'cookies',
      'headers',
      'queryStringParameters',
      'requestContext',
      'isBase64Encoded',
    ]);
    expect(event).toEqual({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/a%20b/c.txt',
      rawQueryString: 'x=1&x=2&y=%C3%A9&flag',
      cookies: ['a=1', 'b=2'],
      headers: {
        host: `127.0.0.1:${host.port}`,
        'user-agent': 'probe/1',
        'x-multi': '1,2',
        'x-amzn-trace-id': expect.stringMatching(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/),
        'x-forwarded-for': '127.0.0.1',
        'x-forwarded-proto': 'http',
        'x-forwarded-port': String(host.port),
      },
      queryStringParameters: { x: '1,2', y: 'é', flag: '' },
      requestContext: {
        accountId: 'anonymous',
        apiId: expect.stringMatching(/^[0-9a-f]{32}$/),
        domainName: `127.0.0.1:${host.port}`,
        domainPrefix: '127',
        http: {
          method: 'GET',
          path: '/a%20b/c.txt',
          protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1',
          userAgent: 'probe/1',
        },
        requestId,
        routeKey: '$default',
        stage: '$default',
        time: clfTime(new Date(event.requestContext.timeEpoch)),
        timeEpoch: expect.any(Number),
      },
      isBase64Encoded: false,
    });
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(context).toMatchObject({
      awsRequestId: requestId,
      functionName: 'tiny',
      functionVersion: '$LATEST',
      invokedFunctionArn: expect.stringMatching(/^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:tiny$/),
    });
    expect(only().remainingMs).toBeGreaterThan(29_000);
    expect(only().remainingMs).toBeLessThanOrEqual(30_000);
  });

  it('leaves out cookies, query parameters and body when there are none', async () => {
    const { host, only } = await withHost();
    await raw(host.port, { path: '/' });
    const { event } = only();
    expect(event.rawQueryString).toBe('');
    expect(event).not.toHaveProperty('cookies');
    expect(event).not.toHaveProperty('queryStringParameters');
    expect(event).not.toHaveProperty('body');
    expect(event.isBase64Encoded).toBe(false);
  });

  it('sends a binary PUT body as base64', async () => {
    const { host, only } = await withHost();
    const data = randomBytes(100 * KiB + 1);
    const res = await fetch(`${host.url}/bucket/key.bin`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
    });

    expect(res.status).toBe(204);
    const { event } = only();
    expect(event.requestContext.http.method).toBe('PUT');
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body ?? '', 'base64').equals(data)).toBe(true);
    expect(event.headers['content-length']).toBe(String(data.length));
  });

  it('sends text bodies as they are, unless they are not UTF-8 or have no text type', async () => {
    const { host, calls } = await withHost();
    const send = (type: string | undefined, body: Buffer) =>
      raw(
        host.port,
        { method: 'POST', path: '/', headers: type ? { 'content-type': type } : {} },
        body,
      );

    await send('application/json; charset=utf-8', Buffer.from('{"name":"é"}'));
    await send('text/plain', Buffer.from([0xff, 0xfe, 0x41]));
    await send(undefined, Buffer.from('plain words'));

    expect(calls.map(({ event }) => [event.body, event.isBase64Encoded])).toEqual([
      ['{"name":"é"}', false],
      ['//5B', true],
      [Buffer.from('plain words').toString('base64'), true],
    ]);
  });

  it('treats text, JSON, XML and JavaScript types as text; everything else as binary', () => {
    for (const type of [
      'text/csv',
      'application/json',
      'application/problem+json',
      'image/svg+xml',
    ])
      expect(isTextContentType(type), type).toBe(true);
    for (const type of ['application/octet-stream', 'image/png', 'multipart/form-data', undefined])
      expect(isTextContentType(type), String(type)).toBe(false);
  });
});

describe('function result → HTTP response', () => {
  it('decodes a base64 body and turns cookies into set-cookie headers', async () => {
    const data = randomBytes(3 * KiB);
    const { host } = await withHost(() => ({
      statusCode: 201,
      headers: { 'Content-Type': 'application/octet-stream', 'x-count': 3 },
      cookies: ['c=1; Path=/', 'd=2; Max-Age=60'],
      body: data.toString('base64'),
      isBase64Encoded: true,
    }));

    const res = await fetch(`${host.url}/`);

    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('content-length')).toBe(String(data.length));
    expect(res.headers.get('x-count')).toBe('3');
    expect(res.headers.getSetCookie()).toEqual(['c=1; Path=/', 'd=2; Max-Age=60']);
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
  });

  it('sends multi-value headers as repeated lines; they win over headers of the same name', async () => {
    const { host } = await withHost(() => ({
      statusCode: 200,
      headers: { 'x-a': 'from headers', 'x-b': 'only' },
      multiValueHeaders: { 'X-A': ['1', '2'] },
      body: 'ok',
    }));

    const { res, body } = await raw(host.port, { path: '/' });

    const lines = res.rawHeaders.flatMap((v, i) =>
      i % 2 === 0 ? [`${v}: ${res.rawHeaders[i + 1]}`] : [],
    );
    expect(lines.filter((line) => /^x-[ab]:/.test(line))).toEqual([
      'x-a: 1',
      'x-a: 2',
      'x-b: only',
    ]);
    expect(body.toString()).toBe('ok');
  });

  it('infers 200 application/json for a result without statusCode, as Lambda does', async () => {
    const answers: unknown[] = ['Hello, world!', { message: 'hi' }];
    const { host } = await withHost(() => answers.shift());

    const first = await fetch(`${host.url}/`);
    const second = await fetch(`${host.url}/`);

    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('application/json');
    expect(await first.text()).toBe('"Hello, world!"');
    expect(await second.text()).toBe('{"message":"hi"}');
  });

  it('answers 502 when the handler throws, times out or returns no HTTP status', async () => {
    const answers = [
      () => {
        throw new Error('boom');
      },
      () => sleep(1_000),
      () => ({ statusCode: 'teapot' }),
    ];
    const { host } = await withHost(() => answers.shift()?.(), { timeoutMs: 200 });

    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${host.url}/`);
      expect(res.status).toBe(502);
      expect(await res.json()).toEqual({ Message: 'Internal Server Error' });
    }
  });
});

describe("Lambda's payload limits", () => {
  const limit = 64 * KiB;
  const tooLarge = {
    Message: `Request must be smaller than ${limit} bytes for the InvokeFunction operation`,
  };

  it('413s a declared body whose event would pass the limit, without calling the handler', async () => {
    const { host, calls } = await withHost(undefined, { requestBytes: limit });

    const res = await fetch(`${host.url}/`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array(8 * 1024 * KiB),
    });

    expect(res.status).toBe(413);
    expect(res.headers.get('x-amzn-errortype')).toBe('RequestEntityTooLargeException');
    expect(await res.json()).toEqual(tooLarge);
    expect(calls).toHaveLength(0);
  });

  it('refuses an Expect: 100-continue upload that cannot fit before the client sends it', async () => {
    const { host, calls } = await withHost(undefined, { requestBytes: limit });
    const req = request({
      host: '127.0.0.1',
      port: host.port,
      method: 'PUT',
      path: '/',
      headers: { expect: '100-continue', 'content-length': String(10 * 1024 * KiB) },
    });
    let continued = false;
    req.on('continue', () => {
      continued = true;
    });
    req.on('error', () => {});
    req.flushHeaders();

    const res = await new Promise<IncomingMessage>((resolve) => req.once('response', resolve));
    req.destroy();

    expect(res.statusCode).toBe(413);
    expect(continued).toBe(false);
    expect(calls).toHaveLength(0);
  });

  it('counts the base64 a binary body becomes: 60 KiB of text fits in 64 KiB, of bytes not', async () => {
    const { host, calls } = await withHost(undefined, { requestBytes: limit });
    const body = Buffer.alloc(60 * KiB, 'a');
    const put = (type: string) =>
      fetch(`${host.url}/`, { method: 'PUT', headers: { 'content-type': type }, body });

    expect((await put('text/plain')).status).toBe(204);
    expect((await put('application/octet-stream')).status).toBe(413);
    expect(calls).toHaveLength(1);
  });

  it('413s a streamed body as soon as it passes the limit, while the client is still sending', async () => {
    const { host, calls } = await withHost(undefined, { requestBytes: limit });
    const req = request({
      host: '127.0.0.1',
      port: host.port,
      method: 'PUT',
      path: '/',
      headers: { 'content-type': 'application/octet-stream' }, // chunked: no length up front
    });
    req.on('error', () => {}); // the host closes the connection after its answer
    const response = new Promise<IncomingMessage>((resolve) => req.once('response', resolve));
    let answered: IncomingMessage | undefined;
    void response.then((res) => {
      answered = res;
    });

    let sent = 0;
    while (!answered && sent < 64 * 1024 * KiB) {
      req.write(Buffer.alloc(16 * KiB));
      sent += 16 * KiB;
      await Promise.race([response, sleep(20)]);
    }
    req.destroy();

    expect((await response).statusCode).toBe(413);
    expect(sent).toBeLessThan(limit * 4);
    expect(calls).toHaveLength(0);
  });

  it('502s a result whose payload passes the response limit, base64 included', async () => {
    const answers = [
      { statusCode: 200, body: 'x'.repeat(2 * KiB) },
      { statusCode: 200, body: Buffer.alloc(900).toString('base64'), isBase64Encoded: true },
      { statusCode: 200, body: 'x'.repeat(900) },
    ];
    const { host } = await withHost(() => answers.shift(), { responseBytes: KiB });

    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${host.url}/`);
      statuses.push(res.status);
      if (res.status === 502) {
        expect(await res.json()).toEqual({
          Message: `Response payload size exceeded maximum allowed payload size (${KiB} bytes).`,
        });
      } else await res.body?.cancel();
    }
    expect(statuses).toEqual([502, 502, 200]);
  });
});
