import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import type { TcpListen, TlsSecurity } from '../config/peer-config.ts';
import type { LogMethods } from '../observability/logger.ts';

/**
 * Node's server limits, chosen for object traffic (SECURITY.md, "slow clients"):
 * - no whole-request timeout (Node's default is 5 minutes): a 4 GiB upload over a slow link
 *   takes as long as it takes, and a mode-1 PUT waits silently while the backend write runs;
 * - 60 s to send the request headers (slowloris bound), checked every `headersTimeout / 4`;
 * - 60 s without a byte of a request body that is still incomplete (a client that sends its
 *   headers and stalls): the connection is destroyed. A slow upload that keeps moving is never
 *   cut, and nothing times out once the body is complete (a PUT waiting for the backend, a
 *   download to a slow reader);
 * - keep-alive sockets idle for 65 s, longer than the 60 s idle timeout of AWS load balancers,
 *   so they never send a request on a socket we are closing;
 * - request headers up to 16 KiB (more is answered 431, see answerClientError), at most 100 of them
 *   (Node ignores the rest).
 */
export const SERVER_LIMITS = {
  requestTimeout: 0,
  headersTimeout: 60_000,
  bodyIdleTimeout: 60_000,
  keepAliveTimeout: 65_000,
  maxHeaderSize: 16 * 1024,
  maxHeadersCount: 100,
} as const;

/** The limits a daemon's config may change (ms). */
export interface ListenerTimeouts {
  readonly headersTimeout?: number;
  readonly bodyIdleTimeout?: number;
}

export interface ListenerOptions {
  /** `api`, `pieces` or `metrics`, for logs. */
  readonly name: string;
  readonly app: Hono;
  readonly tcpListen: TcpListen;
  /** Serve HTTPS; with `tlsVerify`, clients must present a certificate signed by `caCert`. */
  readonly tls?: TlsSecurity;
  /** Told about failed TLS handshakes (a client without a valid certificate), at debug. */
  readonly logger?: Pick<LogMethods, 'debug'>;
  /** Default: SERVER_LIMITS. */
  readonly timeouts?: ListenerTimeouts;
}

export interface Listener {
  readonly name: string;
  /** A URL clients on this host can use (`0.0.0.0` is shown as `127.0.0.1`). */
  readonly url: string;
  readonly port: number;
  /**
   * Stops accepting, lets in-flight requests finish and closes sockets as they go idle; after
   * `timeoutMs` destroys what is left. Resolves true when nothing had to be destroyed.
   */
  close(timeoutMs: number): Promise<boolean>;
}

/** Serves `app` on the first free port of the range. */
export async function startListener(options: ListenerOptions): Promise<Listener> {
  const { tls, tcpListen } = options;
  const headersTimeout = options.timeouts?.headersTimeout ?? SERVER_LIMITS.headersTimeout;
  const bodyIdleTimeout = options.timeouts?.bodyIdleTimeout ?? SERVER_LIMITS.bodyIdleTimeout;
  const common = {
    maxHeaderSize: SERVER_LIMITS.maxHeaderSize,
    // Node checks headersTimeout only this often (default 30 s).
    connectionsCheckingInterval: Math.max(250, Math.min(30_000, headersTimeout / 4)),
  };
  // getRequestListener, not createAdaptorServer: only the former takes an errorHandler.
  const listener = getRequestListener(options.app.fetch, { errorHandler: adaptorError });
  const server: Server = tls
    ? createHttpsServer(
        {
          ...common,
          cert: tls.cert,
          key: tls.key,
          ca: tls.caCert,
          requestCert: tls.tlsVerify,
          rejectUnauthorized: tls.tlsVerify,
          minVersion: 'TLSv1.2',
        },
        listener,
      )
    : createHttpServer(common, listener);
  server.requestTimeout = SERVER_LIMITS.requestTimeout;
  server.headersTimeout = headersTimeout;
  server.keepAliveTimeout = SERVER_LIMITS.keepAliveTimeout;
  server.maxHeadersCount = SERVER_LIMITS.maxHeadersCount;
  if (bodyIdleTimeout > 0) {
    server.on('request', (request: IncomingMessage) => watchBody(request, bodyIdleTimeout));
  }
  server.on('clientError', answerClientError);
  server.on('tlsClientError', (error: NodeJS.ErrnoException) => {
    options.logger?.debug({ listener: options.name, code: error.code }, 'TLS handshake failed');
  });

  const port = await listenInRange(server, tcpListen);
  const scheme = tls ? 'https' : 'http';
  return {
    name: options.name,
    port,
    url: `${scheme}://${connectHost(tcpListen.listen)}:${port}`,
    close: (timeoutMs) => closeGracefully(server, timeoutMs),
  };
}

/**
 * Requests @hono/node-server refuses to turn into a Request (a backslash in the path, a bad
 * Host): 400, and anything else that escapes the app: 500, both with the JSON error body.
 */
function adaptorError(error: unknown): Response {
  const bad = error instanceof Error && error.name === 'RequestError';
  const [status, errors, code] = bad
    ? [400, `Bad Request: ${error.message}`, 'ERR_BAD_REQUEST']
    : [500, 'Internal Server Error', 'ERR_INTERNAL'];
  return Response.json({ errors, code }, { status });
}

/** Node's answers to requests it cannot parse, with the API's JSON error body. */
const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string, string]>> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'ERR_HEADERS_TOO_LARGE'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large', 'ERR_PAYLOAD_TOO_LARGE'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'ERR_REQUEST_TIMEOUT'],
};

/**
 * Replaces Node's default 'clientError' handling (same statuses, no body) so that these
 * answers carry `{"errors","code"}` like every other error (PROTOCOL.md §1).
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const message = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || message?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, reason, code] = CLIENT_ERRORS[error.code ?? ''] ?? [
    400,
    'Bad Request',
    'ERR_BAD_REQUEST',
  ];
  const body = JSON.stringify({ errors: reason, code });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/**
 * Destroys the connection when `request`'s body stalls for `idleMs` before it is complete.
 * The handler sees an aborted body (a 4xx it cannot send); the client sees the connection close.
 * Bytes we have not read yet (a handler waiting for a lock or a slow disk) mean the client is
 * not the slow side: the wait starts again.
 */
function watchBody(request: IncomingMessage, idleMs: number): void {
  if (request.complete) return;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (request.complete) return;
      if (request.readableLength > 0) arm();
      else request.socket.destroy();
    }, idleMs);
    timer.unref();
  };
  const disarm = () => {
    clearTimeout(timer);
    request.socket.off('data', arm);
  };
  // Socket data, not request 'data': a body nobody reads yet is still moving if bytes arrive.
  request.socket.on('data', arm);
  request.once('end', disarm);
  request.once('close', disarm);
  arm();
}

async function listenInRange(server: Server, { listen, port }: TcpListen): Promise<number> {
  for (let candidate = port.start; ; candidate++) {
    try {
      return await listenOnce(server, listen, candidate);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' || candidate >= port.end) {
        const ports = port.start === port.end ? port.start : `${port.start}-${port.end}`;
        const why = code ?? (error as Error).message;
        throw new Error(`cannot listen on ${listen}:${ports} (${why})`, { cause: error });
      }
    }
  }
}

function listenOnce(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

async function closeGracefully(server: Server, timeoutMs: number): Promise<boolean> {
  if (!server.listening) return true;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // close() only closes sockets idle right now; keep-alive sockets of requests still running
  // become idle later, so sweep until everything is closed.
  const sweeper = setInterval(() => server.closeIdleConnections(), 100);
  server.closeIdleConnections();
  const graceful = await Promise.race([
    closed.then(() => true),
    sleep(timeoutMs, false, { ref: false }),
  ]);
  clearInterval(sweeper);
  if (!graceful) {
    server.closeAllConnections();
    await closed;
  }
  return graceful;
}

function connectHost(listen: string): string {
  if (listen === '0.0.0.0' || listen === '') return '127.0.0.1';
  if (listen === '::') return '[::1]';
  return listen.includes(':') ? `[${listen}]` : listen;
}
