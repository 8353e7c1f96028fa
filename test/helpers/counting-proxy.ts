import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { forwardRequest, relayAnswer } from './http-relay.ts';
import { listenPausably } from './pausable-listener.ts';

/**
 * An HTTP reverse proxy (on 127.0.0.1 by default) in front of one server (e.g. the shared Ceph RGW), which
 * records every request: to count what a cluster asked the backend for. Bodies stream both ways
 * (never buffered), and the Host header goes through unchanged, so S3 SigV4 signatures made for
 * the proxy's address stay valid. pause() stops listening and cuts every open connection (like
 * tcp-proxy.ts); resume() listens again on the same port.
 */

export interface ProxiedRequest {
  readonly method: string;
  /** The path as sent (percent-encoded), without the query. */
  readonly path: string;
  /** The query string without `?` ('' when none). */
  readonly query: string;
  /** The upstream's status; 0 until its headers arrived, 502 when it could not be reached. */
  readonly status: number;
  /** Response body bytes relayed so far. */
  readonly bytes: number;
  /** The response body was relayed to its end. */
  readonly complete: boolean;
}

export interface CountingProxy {
  /** The proxy's port (the same across pause/resume). */
  readonly port: number;
  /** `http://<listen address>:<port>`. */
  readonly url: string;
  /** Every request since the start or the last reset(), in arrival order (snapshots). */
  requests(): ProxiedRequest[];
  /** Forgets the requests recorded so far. */
  reset(): void;
  /** Requests of `method` whose path ends with `pathSuffix`. */
  count(method: string, pathSuffix: string): number;
  /** Response body bytes of the GET requests whose path ends with `pathSuffix`. */
  getBytes(pathSuffix: string): number;
  /** Stops listening and destroys open connections; resolves once the listener is closed. */
  pause(): Promise<void>;
  /** Listens again on the same port. */
  resume(): Promise<void>;
  /** Stops for good (like pause) and closes the upstream connections. Idempotent. */
  close(): Promise<void>;
}

export async function startCountingProxy(
  targetHost: string,
  targetPort: number,
  /** Where to listen: 127.0.0.1 and a free port unless told (the swarm bench: a namespace's
   * address). */
  at: { readonly listen?: string; readonly port?: number } = {},
): Promise<CountingProxy> {
  const host = at.listen ?? '127.0.0.1';
  type Entry = { -readonly [K in keyof ProxiedRequest]: ProxiedRequest[K] };
  let entries: Entry[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const upstream = { host: targetHost, port: targetPort, agent, name: 'counting proxy' };

  const relay = (req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? '/';
    const at = target.indexOf('?');
    const entry: Entry = {
      method: req.method ?? 'GET',
      path: at < 0 ? target : target.slice(0, at),
      query: at < 0 ? '' : target.slice(at + 1),
      status: 0,
      bytes: 0,
      complete: false,
    };
    entries.push(entry);
    const onFailed = () => {
      entry.status = 502;
    };
    forwardRequest({ ...upstream, onFailed }, req, res, (answer) => {
      entry.status = answer.statusCode ?? 0;
      answer.on('data', (chunk: Buffer) => {
        entry.bytes += chunk.length;
      });
      answer.on('end', () => {
        entry.complete = true;
      });
      relayAnswer(res, answer);
    });
  };

  const server = createServer({ keepAliveTimeout: 30_000 }, relay);
  const listener = await listenPausably(server, host, at.port);

  const matching = (method: string, suffix: string) =>
    entries.filter((e) => e.method === method && e.path.endsWith(suffix));

  return {
    get port() {
      return listener.port;
    },
    get url() {
      return `http://${host}:${listener.port}`;
    },
    requests: () => entries.map((entry) => ({ ...entry })),
    reset() {
      entries = [];
    },
    count: (method, suffix) => matching(method.toUpperCase(), suffix).length,
    getBytes: (suffix) => matching('GET', suffix).reduce((sum, e) => sum + e.bytes, 0),
    pause: () => listener.pause(),
    resume: () => listener.resume(),
    async close() {
      await listener.pause();
      agent.destroy();
    },
  };
}
