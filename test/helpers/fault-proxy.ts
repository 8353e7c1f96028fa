import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { endToEnd, forwardRequest, relayAnswer } from './http-relay.ts';
import { listenPausably } from './pausable-listener.ts';

/**
 * An HTTP reverse proxy on 127.0.0.1 in front of an S3 server (the shared Ceph RGW) that injects
 * faults, switchable at run time, per request:
 * - `error`: answers itself with an S3 XML error (default 500 InternalError) after reading the
 *   request body; the upstream never sees the request.
 * - `reset`: destroys the client's connection, either mid-request (after `afterBytes` bytes of
 *   the request body, never forwarded) or mid-response (the upstream handled the request, the
 *   client gets the headers and at most `afterBytes` body bytes, then a reset).
 * - `stall`: holds the request before forwarding it (`phase: 'request'`), or the response
 *   after its headers (`'response'`), for `ms` milliseconds, or until clear()/release().
 * A rule applies with `probability` (default 1), to the next `count` matching requests (default:
 * all), optionally only to a method and a path pattern. The first applicable rule wins; no rule
 * means pass. The Host header goes through unchanged, so SigV4 signatures stay valid.
 */

export type FaultAction =
  | { readonly kind: 'error'; readonly status?: number; readonly code?: string }
  | { readonly kind: 'reset'; readonly phase: 'request' | 'response'; readonly afterBytes?: number }
  | { readonly kind: 'stall'; readonly phase: 'request' | 'response'; readonly ms?: number };

export interface FaultRule {
  readonly action: FaultAction;
  /** Chance that a matching request gets the fault (default 1). */
  readonly probability?: number;
  /** Applies to this many requests, then retires (default: unlimited). */
  readonly count?: number;
  /** Only requests of this method (upper case). */
  readonly method?: string;
  /** Only requests whose path (without query) matches. */
  readonly path?: RegExp;
}

export type FaultKind = 'pass' | FaultAction['kind'];

export interface FaultRecord {
  readonly method: string;
  readonly path: string;
  readonly fault: FaultKind;
  readonly at: number;
}

export interface FaultProxy {
  readonly port: number;
  /** `http://127.0.0.1:<port>`: the S3 endpoint to give the process under test. */
  readonly url: string;
  /** Adds a rule (after the existing ones). */
  inject(rule: FaultRule): void;
  /** Removes every rule and releases held (stalled) requests: back to passing everything. */
  clear(): void;
  /** Releases the requests stalled so far (the rules stay). */
  release(): void;
  /** Requests per fault kind since the start or reset(). */
  counts(): Record<FaultKind, number>;
  /** Every request since the start or reset(), in arrival order. */
  requests(): FaultRecord[];
  /** Requests currently held by a stall. */
  readonly stalled: number;
  reset(): void;
  close(): Promise<void>;
}

const S3_MESSAGES: Record<string, string> = {
  InternalError: 'We encountered an internal error. Please try again.',
  ServiceUnavailable: 'Please reduce your request rate.',
  SlowDown: 'Please reduce your request rate.',
};

export function s3ErrorXml(code: string, requestId: string): string {
  const message = S3_MESSAGES[code] ?? 'Injected fault.';
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${message}</Message>` +
    `<RequestId>${requestId}</RequestId><HostId>fault-proxy</HostId></Error>`
  );
}

export async function startFaultProxy(targetHost: string, targetPort: number): Promise<FaultProxy> {
  type Live = { rule: FaultRule; left: number };
  let rules: Live[] = [];
  let records: FaultRecord[] = [];
  let held = new Set<() => void>();
  let nextId = 0;
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });

  const choose = (method: string, path: string): FaultAction | undefined => {
    for (const live of rules) {
      const { rule } = live;
      if (live.left <= 0) continue;
      if (rule.method && rule.method !== method) continue;
      if (rule.path && !rule.path.test(path)) continue;
      if (Math.random() >= (rule.probability ?? 1)) continue;
      live.left--;
      return rule.action;
    }
    return undefined;
  };

  /** Waits `ms` (undefined: until released); resolves early on release or when `res` closes. */
  const hold = (res: ServerResponse, ms: number | undefined) =>
    new Promise<void>((resolve) => {
      const done = () => {
        held.delete(done);
        if (timer) clearTimeout(timer);
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      held.add(done);
      res.once('close', done);
    });

  const upstream = { host: targetHost, port: targetPort, agent, name: 'fault proxy' };
  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    onAnswer: (answer: IncomingMessage) => void,
  ) => forwardRequest(upstream, req, res, onAnswer);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? '/';
    const method = req.method ?? 'GET';
    const path = target.split('?')[0] ?? '/';
    const action = choose(method, path);
    records.push({ method, path, fault: action?.kind ?? 'pass', at: Date.now() });
    if (!action) return forward(req, res, (answer) => relayAnswer(res, answer));
    switch (action.kind) {
      case 'error': {
        const status = action.status ?? 500;
        const code = action.code ?? (status === 503 ? 'ServiceUnavailable' : 'InternalError');
        const body = s3ErrorXml(code, `fault-${++nextId}`);
        const answer = () => {
          if (res.destroyed) return;
          res.writeHead(status, {
            'content-type': 'application/xml',
            'content-length': Buffer.byteLength(body),
            'x-amz-request-id': `fault-${nextId}`,
          });
          res.end(method === 'HEAD' ? undefined : body);
        };
        req.on('end', answer);
        req.on('error', () => res.destroy());
        req.resume();
        return;
      }
      case 'reset': {
        const limit = action.afterBytes ?? 0;
        if (action.phase === 'request') {
          let seen = 0;
          const cut = () => req.socket.destroy();
          if (limit === 0) return cut();
          req.on('data', (chunk: Buffer) => {
            seen += chunk.length;
            if (seen >= limit) cut();
          });
          req.on('end', cut);
          return;
        }
        return forward(req, res, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.statusMessage, {
            ...endToEnd(answer.headers),
          });
          res.flushHeaders();
          let sent = 0;
          const cut = () => {
            answer.destroy();
            res.socket?.destroy();
          };
          if (limit === 0) return setImmediate(cut);
          answer.on('data', (chunk: Buffer) => {
            const room = limit - sent;
            if (room > 0) res.write(chunk.subarray(0, room));
            sent += Math.min(room, chunk.length);
            if (sent >= limit) cut();
          });
          answer.on('end', cut);
        });
      }
      case 'stall': {
        if (action.phase === 'request') {
          req.pause();
          await hold(res, action.ms);
          if (res.destroyed) return;
          return forward(req, res, (answer) => relayAnswer(res, answer));
        }
        return forward(req, res, async (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
          res.flushHeaders();
          answer.pause();
          await hold(res, action.ms);
          if (res.destroyed) return answer.destroy();
          answer.on('error', () => res.destroy());
          answer.pipe(res);
        });
      }
    }
  };

  const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  const listener = await listenPausably(server, '127.0.0.1');
  const releaseAll = () => {
    const waiting = held;
    held = new Set();
    for (const done of waiting) done();
  };

  return {
    get port() {
      return listener.port;
    },
    get url() {
      return `http://127.0.0.1:${listener.port}`;
    },
    inject(rule) {
      rules.push({ rule, left: rule.count ?? Number.POSITIVE_INFINITY });
    },
    clear() {
      rules = [];
      releaseAll();
    },
    release: releaseAll,
    counts() {
      const out: Record<FaultKind, number> = { pass: 0, error: 0, reset: 0, stall: 0 };
      for (const record of records) out[record.fault]++;
      return out;
    },
    requests: () => [...records],
    get stalled() {
      return held.size;
    },
    reset() {
      records = [];
    },
    async close() {
      rules = [];
      releaseAll();
      await listener.pause();
      agent.destroy();
    },
  };
}
