import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAdaptorServer } from '@hono/node-server';
import type { Hono } from 'hono';
import type { TcpListen, TlsSecurity } from '../config/peer-config.ts';
import type { LogMethods } from '../observability/logger.ts';

/**
 * Node's server limits, chosen for object traffic:
 * - no whole-request timeout (Node's default is 5 minutes): a 4 GiB upload over a slow link
 *   takes as long as it takes, and a mode-1 PUT waits silently while the backend write runs;
 * - 60 s to send the request headers (slowloris bound);
 * - keep-alive sockets idle for 65 s, longer than the 60 s idle timeout of AWS load balancers,
 *   so they never send a request on a socket we are closing;
 * - request headers up to 16 KiB; more is answered 431 by Node itself.
 */
export const SERVER_LIMITS = {
  requestTimeout: 0,
  headersTimeout: 60_000,
  keepAliveTimeout: 65_000,
  maxHeaderSize: 16 * 1024,
} as const;

export interface ListenerOptions {
  /** `api`, `pieces` or `metrics`, for logs. */
  readonly name: string;
  readonly app: Hono;
  readonly tcpListen: TcpListen;
  /** Serve HTTPS; with `tlsVerify`, clients must present a certificate signed by `caCert`. */
  readonly tls?: TlsSecurity;
  /** Told about failed TLS handshakes (a client without a valid certificate), at debug. */
  readonly logger?: Pick<LogMethods, 'debug'>;
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
  const server = (
    tls
      ? createAdaptorServer({
          fetch: options.app.fetch,
          createServer: createHttpsServer,
          serverOptions: {
            maxHeaderSize: SERVER_LIMITS.maxHeaderSize,
            cert: tls.cert,
            key: tls.key,
            ca: tls.caCert,
            requestCert: tls.tlsVerify,
            rejectUnauthorized: tls.tlsVerify,
            minVersion: 'TLSv1.2',
          },
        })
      : createAdaptorServer({
          fetch: options.app.fetch,
          createServer: createHttpServer,
          serverOptions: { maxHeaderSize: SERVER_LIMITS.maxHeaderSize },
        })
  ) as Server;
  server.requestTimeout = SERVER_LIMITS.requestTimeout;
  server.headersTimeout = SERVER_LIMITS.headersTimeout;
  server.keepAliveTimeout = SERVER_LIMITS.keepAliveTimeout;
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
