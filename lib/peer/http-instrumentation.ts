import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { HttpBindings } from '@hono/node-server';
import { Hono, type MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { createErrorHandler, notFoundHandler } from '../api/error-handler.ts';
import { contextualLogger, type LogMethods, withRequestLogger } from '../observability/logger.ts';
import type { DaemonMetrics } from '../observability/metrics.ts';

export interface InstrumentOptions {
  /** `api` or `pieces`: the `server` label of the byte counters. */
  readonly server: string;
  readonly logger: LogMethods & { child(bindings: Record<string, unknown>): LogMethods };
  readonly metrics?: DaemonMetrics;
  /** Level of the one access-log line per request (the piece server's are many: debug). */
  readonly accessLogLevel?: 'info' | 'debug';
}

/**
 * Mounts `app` under a root app that measures and logs every request: a child logger with a
 * `requestId` (the client's `X-Request-Id` when sane, else a UUID; echoed back) is the current
 * logger while the request runs; when the response has been sent (or the client went away) one
 * access-log line and the HTTP metrics are recorded, labelled by route pattern, not path.
 * Never logs bodies, headers or query strings (presigned URLs carry signatures there).
 */
export function instrumentApp(app: Hono, options: InstrumentOptions): Hono {
  const root = new Hono();
  root.use('*', instrument(options));
  root.onError(createErrorHandler(contextualLogger(options.logger)));
  root.notFound(notFoundHandler);
  root.route('/', app);
  return root;
}

const REQUEST_ID_RE = /^[\w.:-]{1,128}$/;

/** Socket byte counts already attributed to a request (keep-alive sockets serve many). */
const accounted = new WeakMap<Socket, { read: number; written: number }>();

function instrument(options: InstrumentOptions): MiddlewareHandler {
  const { server, metrics } = options;
  return async (c, next) => {
    const started = performance.now();
    const header = c.req.header('x-request-id');
    const requestId = header && REQUEST_ID_RE.test(header) ? header : randomUUID();
    const log = options.logger.child({ requestId });
    const bindings = c.env as Partial<HttpBindings> | undefined;
    const outgoing = bindings?.outgoing;
    // Listen before running the handler: a client that gives up early closes the response first.
    const closed = outgoing
      ? new Promise<boolean>((resolve) =>
          outgoing.once('close', () => resolve(!outgoing.writableFinished)),
        )
      : Promise.resolve(false);
    await withRequestLogger(log, () => next());
    c.res.headers.set('X-Request-Id', requestId);

    const route = matchedRoute(c);
    const method = c.req.method;
    const status = c.res.status;
    const finish = (aborted: boolean) => {
      const seconds = (performance.now() - started) / 1000;
      const labels = { method, route, status: String(status) };
      metrics?.httpRequests.inc(labels);
      metrics?.httpDuration.observe(labels, seconds);
      const bytes = socketBytes(bindings?.incoming?.socket);
      if (bytes) {
        metrics?.bytesReceived.inc({ server }, bytes.read);
        metrics?.bytesSent.inc({ server }, bytes.written);
      }
      const line = {
        method,
        route,
        path: c.req.path,
        status,
        durationMs: Math.round(seconds * 1000),
        bytesIn: bytes?.read,
        bytesOut: bytes?.written,
        ...(aborted && !sentDeclaredLength(outgoing, bytes?.written) ? { aborted } : {}),
      };
      if (options.accessLogLevel === 'debug') log.debug(line, 'request');
      else log.info(line, 'request');
    };
    void closed.then(finish);
  };
}

/** The pattern of the route that answered; `unmatched` for 404s of unknown paths. */
function matchedRoute(c: Parameters<MiddlewareHandler>[0]): string {
  const path = routePath(c, -1);
  return path === '*' || path === '/*' ? 'unmatched' : path;
}

/** Bytes the socket moved since the last request on it was accounted. */
/**
 * A client that has read the whole body (it knows Content-Length) may close before the server
 * calls end(): then `close` comes before `finish` although nothing was cut short.
 */
function sentDeclaredLength(
  outgoing: { getHeader(name: string): unknown } | undefined,
  written: number | undefined,
): boolean {
  const declared = Number(outgoing?.getHeader('content-length'));
  return Number.isSafeInteger(declared) && written !== undefined && written >= declared;
}

function socketBytes(socket: Socket | undefined): { read: number; written: number } | undefined {
  if (!socket) return undefined;
  const before = accounted.get(socket) ?? { read: 0, written: 0 };
  const now = { read: socket.bytesRead, written: socket.bytesWritten };
  accounted.set(socket, now);
  return {
    read: Math.max(0, now.read - before.read),
    written: Math.max(0, now.written - before.written),
  };
}
