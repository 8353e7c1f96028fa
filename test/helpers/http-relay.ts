import {
  type Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';

/**
 * The forwarding half of the test and bench reverse proxies (counting-proxy.ts, fault-proxy.ts,
 * bench/lib/delay-proxy.ts): bodies stream both ways (never buffered), and the Host header goes
 * through unchanged, so S3 SigV4 signatures made for the proxy's address stay valid.
 */

/** Hop-by-hop headers (RFC 9110 §7.6.1): each connection has its own. Not signed by SigV4. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Node's server has answered `100 Continue` already; the upstream need not be asked again.
  'expect',
]);

export function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())),
  );
}

export interface Upstream {
  readonly host: string;
  readonly port: number;
  readonly agent: Agent;
  /** Names the proxy in its 502 body (e.g. `counting proxy`). */
  readonly name: string;
  /** The upstream could not be reached (or failed) before the answer's headers were sent. */
  readonly onFailed?: () => void;
}

/**
 * Sends `req` (method, target, end-to-end headers, body) upstream; `onAnswer` gets the upstream's
 * response. An upstream failure is a 502 (or a cut connection once headers went out); a client
 * that goes away before the answer was relayed drops the upstream request.
 */
export function forwardRequest(
  upstream: Upstream,
  req: IncomingMessage,
  res: ServerResponse,
  onAnswer: (answer: IncomingMessage) => void,
): void {
  const out = request(
    {
      host: upstream.host,
      port: upstream.port,
      method: req.method,
      path: req.url ?? '/',
      headers: endToEnd(req.headers),
      agent: upstream.agent,
    },
    onAnswer,
  );
  out.on('error', () => {
    if (res.headersSent) return res.destroy();
    upstream.onFailed?.();
    res.writeHead(502, { 'content-type': 'text/plain' }).end(`${upstream.name}: upstream failed`);
  });
  res.on('close', () => {
    if (!res.writableFinished) out.destroy();
  });
  req.pipe(out);
}

/** Relays an upstream answer as is: status, end-to-end headers, body. */
export function relayAnswer(res: ServerResponse, answer: IncomingMessage): void {
  res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
  answer.on('error', () => res.destroy());
  answer.pipe(res);
}
