import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';

/**
 * An HTTP reverse proxy in front of the S3 server that counts the response body bytes of every
 * GET: what the cluster read from the backend, measured on the server's side. Like
 * test/helpers/counting-proxy.ts, but listening on a given address (the S3 host's namespace
 * address) and keeping only totals. Bodies stream both ways; the Host header goes through
 * unchanged, so SigV4 signatures made for the proxy's address stay valid.
 */
export interface GetCounts {
  /** GET requests answered (any status). */
  readonly gets: number;
  /** GET requests with a Range header. */
  readonly rangedGets: number;
  /** Response body bytes of every GET relayed so far. */
  readonly getBytes: number;
}

export interface CountingHttpProxy {
  readonly url: string;
  counts(): GetCounts;
  close(): Promise<void>;
}

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
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

export async function startCountingHttpProxy(options: {
  readonly listen: string;
  readonly port: number;
  readonly targetHost: string;
  readonly targetPort: number;
}): Promise<CountingHttpProxy> {
  const counts = { gets: 0, rangedGets: 0, getBytes: 0 };
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const sockets = new Set<Socket>();

  const relay = (req: IncomingMessage, res: ServerResponse) => {
    const isGet = req.method === 'GET';
    if (isGet) {
      counts.gets++;
      if (req.headers.range) counts.rangedGets++;
    }
    const upstream = request(
      {
        host: options.targetHost,
        port: options.targetPort,
        method: req.method,
        path: req.url,
        headers: endToEnd(req.headers),
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
        if (isGet) {
          answer.on('data', (chunk: Buffer) => {
            counts.getBytes += chunk.length;
          });
        }
        answer.on('error', () => res.destroy());
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (res.headersSent) return res.destroy();
      res.writeHead(502, { 'content-type': 'text/plain' }).end('proxy: upstream failed');
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };

  const server = createServer({ keepAliveTimeout: 30_000 }, relay);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.listen, port: options.port, exclusive: true }, () => resolve());
  });
  return {
    url: `http://${options.listen}:${options.port}`,
    counts: () => ({ ...counts }),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      agent.destroy();
    },
  };
}
