import {
  Agent as HttpAgent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { pipeline, type Readable } from 'node:stream';

/**
 * The object API function's HTTP client to seed peers, on node:http: no undici in the function's
 * bundle (~540 KB minified, bench/lambda.ts). It keeps what the function relied on: a connect
 * timeout short enough to fail over to the next seed peer, a timeout for the answer's headers,
 * one for a stalled body, keep-alive pools, and bodies streamed both ways.
 */
export interface HttpCallerOptions {
  /** Connection setup; past it the call fails with code ERR_CONNECT_TIMEOUT. */
  readonly connectTimeoutMs: number;
  /** Idle keep-alive sockets are closed after this long. */
  readonly keepAliveTimeoutMs: number;
}

export interface HttpCall {
  readonly method: string;
  readonly url: URL;
  readonly headers?: Record<string, string>;
  readonly body?: Readable | Buffer | string;
  readonly signal?: AbortSignal;
  /** Wait for the answer's headers once the request is sent (code ERR_HEADERS_TIMEOUT). */
  readonly headersTimeoutMs: number;
  /** Longest pause while the answer's body streams (code ERR_BODY_TIMEOUT). */
  readonly bodyTimeoutMs: number;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Consume or destroy it (the socket goes back to the pool once read). */
  readonly body: IncomingMessage;
}

export interface HttpCaller {
  call(call: HttpCall): Promise<HttpAnswer>;
  /** Closes the pooled sockets. */
  close(): void;
}

/** Codes of the timeouts above, for callers that decide whether a peer was reachable. */
export const HTTP_TIMEOUT_CODES = {
  connect: 'ERR_CONNECT_TIMEOUT',
  headers: 'ERR_HEADERS_TIMEOUT',
  body: 'ERR_BODY_TIMEOUT',
} as const;

export function createHttpCaller(options: HttpCallerOptions): HttpCaller {
  const pool = { keepAlive: true, timeout: options.keepAliveTimeoutMs };
  const httpAgent = new HttpAgent(pool);
  const httpsAgent = new HttpsAgent(pool);

  function call(spec: HttpCall): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      const https = spec.url.protocol === 'https:';
      const req = (https ? httpsRequest : request)(spec.url, {
        method: spec.method,
        headers: spec.headers,
        agent: https ? httpsAgent : httpAgent,
        signal: spec.signal,
      });
      let timer: NodeJS.Timeout | undefined;
      const fail = (code: string, message: string) =>
        req.destroy(Object.assign(new Error(message), { code }));
      const arm = (ms: number, code: string, message: string) => {
        clearTimeout(timer);
        timer = setTimeout(() => fail(code, message), ms);
      };
      req.on('socket', (socket) => {
        const connecting = (socket as { connecting?: boolean }).connecting;
        if (!connecting)
          return arm(spec.headersTimeoutMs, HTTP_TIMEOUT_CODES.headers, 'headers timeout');
        arm(options.connectTimeoutMs, HTTP_TIMEOUT_CODES.connect, 'connect timeout');
        socket.once(https ? 'secureConnect' : 'connect', () =>
          arm(spec.headersTimeoutMs, HTTP_TIMEOUT_CODES.headers, 'headers timeout'),
        );
      });
      req.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      req.once('response', (res) => {
        clearTimeout(timer);
        res.setTimeout(spec.bodyTimeoutMs, () =>
          res.destroy(Object.assign(new Error('body timeout'), { code: HTTP_TIMEOUT_CODES.body })),
        );
        // Once read, the socket goes back to the pool, whose idle timeout replaces this one.
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
      });
      const body = spec.body;
      if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
        req.end(body);
      } else {
        pipeline(body, req, () => {
          // A failed body destroys the request, whose 'error' rejects the call.
        });
      }
    });
  }

  return {
    call,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** Reads a body to its end and drops it. */
export async function dump(body: Readable): Promise<void> {
  for await (const _ of body) {
    // discard
  }
}

/** The body as text, at most `limit` bytes of it; the rest is discarded. */
export async function readText(body: Readable, limit = Number.POSITIVE_INFINITY): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= limit) break;
    }
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}
