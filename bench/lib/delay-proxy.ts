import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { forwardRequest, relayAnswer } from '../../test/helpers/http-relay.ts';
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

export async function startDelayProxy(
  targetHost: string,
  targetPort: number,
  delayMs = 0,
): Promise<DelayProxy> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const upstream = { host: targetHost, port: targetPort, agent, name: 'delay proxy' };
  let requests = 0;
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    requests++;
    forwardRequest(upstream, req, res, (answer) => relayAnswer(res, answer));
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
