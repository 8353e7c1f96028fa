import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogMethods } from '../observability/logger.ts';
import {
  FUNCTION_URL_LIMITS,
  type FunctionUrlEvent,
  type FunctionUrlHandler,
  type LambdaContext,
} from './function-url.ts';
import {
  BODY_FIELD_BYTES,
  eventHead,
  InvalidResultError,
  minEncodedBytes,
  responseOf,
  textCandidate,
  withBody,
} from './function-url-event.ts';

/**
 * Serves a Lambda handler on a local HTTP port the way a function URL (auth type NONE, BUFFERED)
 * serves it on AWS: each request becomes the payload-2.0 event Lambda would send
 * (function-url-event.ts), the handler's result becomes the HTTP response, and Lambda's payload
 * limits hold: an event over the request limit is a 413 before the handler runs, a result over
 * the response limit a 502. Request bodies are never buffered past the limit: the 413 goes out
 * as soon as the event can no longer fit. Handler errors and timeouts are 502s, as on AWS.
 *
 * Unlike Lambda, concurrent requests share one process (Lambda would add execution
 * environments), and the handler keeps running after a timeout (Lambda would freeze it).
 */

export interface FunctionHostOptions {
  readonly handler: FunctionUrlHandler;
  /** Default 127.0.0.1. */
  readonly listen?: string;
  /** 0: any free port (see `FunctionHost.port`). */
  readonly port: number;
  /** The function's name: `context.functionName`, logs. */
  readonly name: string;
  readonly logger?: Pick<LogMethods, 'debug' | 'warn' | 'error'>;
  /** Payload limits in bytes; default FUNCTION_URL_LIMITS (Lambda's). */
  readonly limits?: { readonly requestBytes?: number; readonly responseBytes?: number };
  /** The function's timeout: what `getRemainingTimeInMillis` counts down from. Default 60 s. */
  readonly timeoutMs?: number;
  /** For `invokedFunctionArn`; default AWS_REGION, else us-east-1. */
  readonly region?: string;
}

export interface FunctionHost {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets requests in flight finish (up to `timeoutMs`, default 5 s). */
  close(timeoutMs?: number): Promise<void>;
}

export const DEFAULT_FUNCTION_TIMEOUT_MS = 60_000;

export async function startFunctionHost(options: FunctionHostOptions): Promise<FunctionHost> {
  const listen = options.listen ?? '127.0.0.1';
  const requestLimit = options.limits?.requestBytes ?? FUNCTION_URL_LIMITS.requestBytes;
  const responseLimit = options.limits?.responseBytes ?? FUNCTION_URL_LIMITS.responseBytes;
  const timeoutMs = options.timeoutMs ?? DEFAULT_FUNCTION_TIMEOUT_MS;
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  // Shaped like a function URL id: 32 lower-case alphanumerics, stable per function name.
  const apiId = createHash('sha256').update(options.name).digest('hex').slice(0, 32);
  const logStream = `[$LATEST]${randomBytes(16).toString('hex')}`;
  const log = { function: options.name };
  let port = options.port;

  /** The context of an invocation starting now: its timeout counts from here, as on Lambda. */
  const context = (requestId: string, started = new Date()): LambdaContext => ({
    awsRequestId: requestId,
    functionName: options.name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${options.name}`,
    memoryLimitInMB: '128',
    logGroupName: `/aws/lambda/${options.name}`,
    logStreamName: `${started.toISOString().slice(0, 10).replaceAll('-', '/')}/${logStream}`,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, started.getTime() + timeoutMs - Date.now()),
  });

  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    const started = new Date();
    res.setHeader('x-amzn-requestid', requestId);
    const head = eventHead(
      {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        httpVersion: req.httpVersion,
        headers: req.headersDistinct,
        sourceIp: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
        port,
      },
      { requestId, apiId, now: started, traceId: randomBytes(12).toString('hex') },
    );
    const text = textCandidate(head.headers);
    const headBytes = Buffer.byteLength(JSON.stringify(head)) + BODY_FIELD_BYTES;
    const fits = (bodyBytes: number) =>
      headBytes + minEncodedBytes(bodyBytes, text) <= requestLimit;
    const tooLarge = () => {
      options.logger?.warn({ ...log, requestId, limit: requestLimit }, 'request payload too large');
      rejectRequest(req, res, requestLimit);
    };

    const declared = Number(req.headers['content-length'] ?? 0);
    if (Number.isSafeInteger(declared) && !fits(declared)) return tooLarge();
    if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
    const body = await readBody(req, fits);
    if (body === 'aborted') return;
    if (body === 'too-large') return tooLarge();
    const event: FunctionUrlEvent = withBody(head, body);
    if (Buffer.byteLength(JSON.stringify(event)) > requestLimit) return tooLarge();

    let payload: string;
    try {
      payload = await invoke(options.handler, event, context(requestId), timeoutMs);
    } catch (error) {
      options.logger?.error({ ...log, requestId, err: error }, 'invocation failed');
      return sendError(res, 502, 'Internal Server Error');
    }
    if (Buffer.byteLength(payload) > responseLimit) {
      options.logger?.warn(
        { ...log, requestId, limit: responseLimit },
        'response payload too large',
      );
      const message = `Response payload size exceeded maximum allowed payload size (${responseLimit} bytes).`;
      return sendError(res, 502, message);
    }
    try {
      writeResult(req, res, payload);
    } catch (error) {
      options.logger?.error({ ...log, requestId, err: error }, 'invalid function result');
      return sendError(res, 502, 'Internal Server Error');
    }
    options.logger?.debug(
      { ...log, requestId, method: head.requestContext.http.method, path: head.rawPath },
      `${res.statusCode} in ${Date.now() - started.getTime()} ms`,
    );
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    serve(req, res).catch((error: unknown) => {
      options.logger?.error({ ...log, err: error }, 'function host failed');
      sendError(res, 502, 'Internal Server Error');
    });
  };
  const server = createServer(handle);
  // With a listener, Node leaves `Expect: 100-continue` to us: an oversized upload is refused
  // before the client sends it.
  server.on('checkContinue', handle);
  port = await new Promise<number>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(`cannot listen on ${listen}:${options.port} (${error.code ?? error.message})`),
      ),
    );
    server.listen(options.port, listen, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : options.port);
    });
  });
  const host = listen === '0.0.0.0' ? '127.0.0.1' : listen.includes(':') ? `[${listen}]` : listen;
  return {
    url: `http://${host}:${port}`,
    port,
    async close(closeTimeoutMs = 5_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const sweeper = setInterval(() => server.closeIdleConnections(), 100);
      server.closeIdleConnections();
      const done = await Promise.race([
        closed.then(() => true),
        sleep(closeTimeoutMs, false, { ref: false }),
      ]);
      clearInterval(sweeper);
      if (!done) server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * The request body, read until `fits(bytesSoFar)` fails ('too-large': nothing more is kept) or
 * the client goes away ('aborted').
 */
function readBody(
  req: IncomingMessage,
  fits: (bytes: number) => boolean,
): Promise<Buffer | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const finish = (result: Buffer | 'too-large' | 'aborted') => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (fits(total)) chunks.push(chunk);
      else finish('too-large');
    };
    const onEnd = () => finish(Buffer.concat(chunks, total));
    const onClose = () => finish('aborted');
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
  });
}

async function invoke(
  handler: FunctionUrlHandler,
  event: FunctionUrlEvent,
  context: LambdaContext,
  timeoutMs: number,
): Promise<string> {
  const timeout = new AbortController();
  try {
    const result = await Promise.race([
      handler(event, context),
      sleep(timeoutMs, undefined, { signal: timeout.signal }).then(() => {
        throw new Error(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
      }),
    ]);
    // Lambda's runtime serializes the result: what does not survive JSON does not arrive.
    return JSON.stringify(result ?? null);
  } finally {
    timeout.abort();
  }
}

function writeResult(req: IncomingMessage, res: ServerResponse, payload: string): void {
  const response = responseOf(JSON.parse(payload));
  if (response.status === 101) throw new InvalidResultError('101 Switching Protocols');
  const headers: Record<string, string | string[]> = {};
  for (const [name, values] of response.headers) {
    headers[name] = values.length === 1 ? (values[0] as string) : [...values];
  }
  const bodiless = response.status === 204 || response.status === 304;
  if (req.method === 'HEAD') {
    headers['content-length'] = response.declaredLength ?? String(response.body.length);
  } else if (!bodiless) {
    headers['content-length'] = String(response.body.length);
  }
  // writeHead validates every name and value before sending anything; a bad one throws here.
  res.writeHead(response.status, headers);
  res.end(req.method === 'HEAD' || bodiless ? undefined : response.body);
}

/** Lambda's own error answers: JSON `{"Message": ...}`. */
function sendError(res: ServerResponse, status: number, message: string, errorType?: string) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ Message: message });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...(errorType && { 'x-amzn-errortype': errorType }),
  });
  res.end(body);
}

/**
 * 413 as Lambda words it. The rest of the body is read and dropped (never kept) until the
 * response is out, then the connection closes: the client sees the answer instead of a reset.
 */
function rejectRequest(req: IncomingMessage, res: ServerResponse, limit: number): void {
  res.shouldKeepAlive = false;
  const message = `Request must be smaller than ${limit} bytes for the InvokeFunction operation`;
  sendError(res, 413, message, 'RequestEntityTooLargeException');
  req.resume();
}
