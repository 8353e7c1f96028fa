import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import { listenPausably } from '../../test/helpers/pausable-listener.ts';

/**
 * An HTTP reverse proxy on 127.0.0.1 in front of one server (the bench's Ceph RGW) that holds
 * every request `delayMs` before forwarding it: a backend with that much more latency per
 * request (this kernel has no netem). Bodies stream both ways (never buffered: the request body
 * waits in the socket meanwhile) and the Host header goes through unchanged, so SigV4 signatures
 * made for the proxy's address stay valid. The delay can change between phases.
 */
export interface DelayProxy {
  readonly url: string;
  delayMs: number;
  /** Requests forwarded so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) are the connection's own; `expect` was answered here. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())),
  );
}

export async function startDelayProxy(
  targetHost: string,
  targetPort: number,
  delayMs = 0,
): Promise<DelayProxy> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  let requests = 0;
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    requests++;
    const upstream = request(
      {
        host: targetHost,
        port: targetPort,
        method: req.method,
        path: req.url ?? '/',
        headers: endToEnd(req.headers),
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
        answer.on('error', () => res.destroy());
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (res.headersSent) return res.destroy();
      res.writeHead(502, { 'content-type': 'text/plain' }).end('delay proxy: upstream failed');
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };
  const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    req.pause();
    if (proxy.delayMs <= 0) return forward(req, res);
    const timer = setTimeout(() => forward(req, res), proxy.delayMs);
    res.on('close', () => clearTimeout(timer));
  });
  const listener = await listenPausably(server, '127.0.0.1');
  const proxy: DelayProxy = {
    url: `http://127.0.0.1:${listener.port}`,
    delayMs,
    get requests() {
      return requests;
    },
    async close() {
      await listener.pause();
      agent.destroy();
    },
  };
  return proxy;
}
