import { Writable } from 'node:stream';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { UploadSessions } from '../../../lib/api/upload-sessions.ts';
import { staticTokenSource } from '../../../lib/function/api-token.ts';
import { createObjectsFunctionApp } from '../../../lib/function/app.ts';
import { createEmfRecorder, emfLine, routeOf } from '../../../lib/function/emf.ts';
import { createFunctionObjectService } from '../../../lib/function/function-object-service.ts';
import { createLambdaHandler } from '../../../lib/function/lambda-handler.ts';
import type { FunctionUrlResult, LambdaContext } from '../../../lib/local/function-url.ts';
import { eventHead, withBody } from '../../../lib/local/function-url-event.ts';
import { contextualLogger, createLogger } from '../../../lib/observability/logger.ts';
import { fakeBackend, MiB, memoryService } from './fakes.ts';

const TOKEN = 'a-token-of-at-least-16-chars';

function event(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer) {
  const head = eventHead(
    {
      method,
      url,
      httpVersion: '1.1',
      headers: Object.fromEntries(
        Object.entries({ host: 'fn.lambda-url.test', ...headers }).map(([k, v]) => [k, [v]]),
      ),
      sourceIp: '127.0.0.1',
      port: 443,
    },
    { requestId: 'url-request', apiId: 'a'.repeat(32), now: new Date(), traceId: 'f'.repeat(24) },
  );
  return body ? withBody(head, body) : head;
}

const context = (requestId: string) =>
  ({ awsRequestId: requestId, getRemainingTimeInMillis: () => 30_000 }) as LambdaContext;

/** A logger writing JSON lines into `lines`. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)));
      callback();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

function functionUnderTest() {
  const objects = new Map([['bkt/k', Buffer.from('hello')]]);
  const { backend } = fakeBackend(objects);
  const { lines, logger } = capture();
  const metrics: string[] = [];
  const service = createFunctionObjectService({
    backend,
    seedPeers: { all: async () => [], ranked: async () => [], markUnreachable: () => {} },
    seedPeerService: () => memoryService(objects).service,
    p2p: { currentVersion: async () => undefined, flushKey: async () => {} },
    inlineLimit: 4 * MiB,
    redirectTtlSeconds: 60,
    logger: contextualLogger(logger),
    fallback: { ...memoryService(objects).service, metadata: () => backend },
  });
  const app = createObjectsFunctionApp({
    service,
    uploads: {} as UploadSessions,
    inlineLimit: 4 * MiB,
    auth: { mode: 'token', tokens: staticTokenSource(TOKEN) },
    logger: contextualLogger(logger),
  });
  const handler = createLambdaHandler({
    fetch: app.fetch,
    logger,
    recordMetric: createEmfRecorder(
      (line) => metrics.push(line),
      () => 1_700_000_000_000,
    ),
  });
  return { handler, lines, metrics };
}

describe('createLambdaHandler', () => {
  it('serves the app to function URL events, bodies as base64', async () => {
    const { handler } = functionUnderTest();
    const result = (await handler(
      event('GET', '/buckets/bkt/objects/k', { authorization: `Bearer ${TOKEN}` }),
      context('req-1'),
    )) as FunctionUrlResult;
    expect(result.statusCode).toBe(200);
    expect(result.isBase64Encoded).toBe(true);
    expect(Buffer.from(result.body ?? '', 'base64').toString()).toBe('hello');
  });

  it('logs one line per request with the request id and the cold-start flag, and no secrets', async () => {
    const { handler, lines } = functionUnderTest();
    const auth = { authorization: `Basic ${Buffer.from(`dfstore:${TOKEN}`).toString('base64')}` };
    await handler(event('GET', '/buckets/bkt/objects/k?filter=x', auth), context('req-1'));
    await handler(
      event('GET', '/buckets/bkt/objects/k', { authorization: 'Bearer nope' }),
      context('req-2'),
    );
    const requests = lines.filter((line) => line.msg === 'request');
    expect(requests).toMatchObject([
      {
        requestId: 'req-1',
        coldStart: true,
        route: 'GET /buckets/:bucket/objects/*',
        status: 200,
        bytesOut: 5,
      },
      { requestId: 'req-2', coldStart: false, status: 401 },
    ]);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('filter=x');
    expect(text).not.toContain('authorization');
  });

  it('writes one EMF line per request: namespace dfstore, route and status-class dimensions', async () => {
    const { handler, metrics } = functionUnderTest();
    await handler(
      event('HEAD', '/buckets/bkt/objects/missing', { authorization: `Bearer ${TOKEN}` }),
      context('r'),
    );
    expect(metrics).toHaveLength(1);
    const doc = JSON.parse(metrics[0] ?? '{}');
    expect(doc).toMatchObject({
      _aws: {
        Timestamp: 1_700_000_000_000,
        CloudWatchMetrics: [
          {
            Namespace: 'dfstore',
            Dimensions: [['route', 'statusClass']],
            Metrics: [
              { Name: 'Requests', Unit: 'Count' },
              { Name: 'Bytes', Unit: 'Bytes' },
              { Name: 'LatencyMs', Unit: 'Milliseconds' },
            ],
          },
        ],
      },
      route: 'HEAD /buckets/:bucket/objects/*',
      statusClass: '4xx',
      Requests: 1,
      Bytes: 0,
    });
    expect(typeof doc.LatencyMs).toBe('number');
  });
});

describe('EMF and routes', () => {
  it.each([
    ['GET', '/healthy', 'GET /healthy'],
    ['GET', '/metadata', 'GET /metadata'],
    ['PUT', '/buckets/b/objects/a/b/c', 'PUT /buckets/:bucket/objects/*'],
    ['GET', '/buckets/b/metadatas', 'GET /buckets/:bucket/metadatas'],
    ['POST', '/buckets/b', 'POST /buckets/:bucket'],
    ['POST', '/buckets/b/uploads', 'POST /buckets/:bucket/uploads'],
    ['POST', '/buckets/b/uploads/xyz/complete', 'POST /buckets/:bucket/uploads/:uploadId/complete'],
    ['DELETE', '/buckets/b/uploads/xyz', 'DELETE /buckets/:bucket/uploads/:uploadId'],
    ['PATCH', '/secret/path', 'OTHER unknown'],
  ])('%s %s → %s', (method, path, route) => {
    expect(routeOf(method, path)).toBe(route);
  });

  it('emits a line CloudWatch parses: a single JSON object', () => {
    const line = emfLine({ route: 'GET /healthy', status: 200, bytes: 4, latencyMs: 1.234 }, 5);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toMatchObject({ statusClass: '2xx', LatencyMs: 1.23, Bytes: 4 });
  });

  it('keeps the plain app usable for tests', async () => {
    expect((await new Hono().request('/')).status).toBe(404);
  });
});
