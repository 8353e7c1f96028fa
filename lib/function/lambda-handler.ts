import { getRequestListener } from '@hono/node-server';
import serverless from 'serverless-http';
import type {
  FunctionUrlEvent,
  FunctionUrlHandler,
  FunctionUrlResult,
  LambdaContext,
} from '../local/function-url.ts';
import { type LogMethods, withRequestLogger } from '../observability/logger.ts';
import { type RequestMetric, routeOf } from './emf.ts';

export interface LambdaHandlerDeps {
  /** The HTTP app (a Hono app's `fetch`). */
  readonly fetch: (request: Request, env?: unknown) => Response | Promise<Response>;
  /** Each invocation logs through a child carrying `requestId` and `coldStart`. */
  readonly logger: LogMethods & { child(bindings: Record<string, unknown>): LogMethods };
  readonly recordMetric?: (metric: RequestMetric) => void;
}

/**
 * A function URL handler around an HTTP app (serverless-http over @hono/node-server's listener,
 * so the app sees the same Node request shape as under the daemon's server). Every body travels
 * as base64: objects are arbitrary bytes whatever their Content-Type. Per invocation: one JSON
 * log line (request id, cold start, route pattern, status, latency, body bytes; never paths,
 * headers or bodies) and one EMF metric line.
 */
export function createLambdaHandler(deps: LambdaHandlerDeps): FunctionUrlHandler {
  const serve = serverless(getRequestListener(deps.fetch), {
    binary: true,
    request: restoreRawHeaders,
  });
  let coldStart = true;
  return async (event: FunctionUrlEvent, context: LambdaContext) => {
    const logger = deps.logger.child({ requestId: context.awsRequestId, coldStart });
    coldStart = false;
    const started = performance.now();
    const route = routeOf(event.requestContext.http.method, event.rawPath);
    let result: FunctionUrlResult;
    try {
      result = (await withRequestLogger(logger, () => serve(event, context))) as FunctionUrlResult;
    } catch (error) {
      logger.error({ err: error, route }, 'invocation failed');
      throw error;
    }
    const latencyMs = performance.now() - started;
    const bytesIn = bodyBytes(event.body, event.isBase64Encoded);
    const bytesOut = bodyBytes(result.body, result.isBase64Encoded);
    const status = result.statusCode;
    logger.info({ route, status, latencyMs: Math.round(latencyMs), bytesIn, bytesOut }, 'request');
    deps.recordMetric?.({ route, status, bytes: bytesIn + bytesOut, latencyMs });
    return result;
  };
}

function bodyBytes(body: string | undefined, base64: boolean | undefined): number {
  if (!body) return 0;
  return base64 ? Buffer.byteLength(body, 'base64') : Buffer.byteLength(body, 'utf8');
}

/**
 * serverless-http fills `headers` of its IncomingMessage but leaves `rawHeaders` empty, and
 * @hono/node-server builds the Request's headers from `rawHeaders`: without this the app sees
 * no Authorization, Content-Type or Range at all.
 */
function restoreRawHeaders(request: { headers: Record<string, unknown>; rawHeaders: string[] }) {
  const raw: string[] = [];
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) raw.push(name, String(one));
  }
  request.rawHeaders = raw;
}
