import { getRequestListener } from '@hono/node-server';
import serverless from 'serverless-http';
import { loadManagerEnv } from '../lib/config/manager-env.ts';
import {
  type FunctionUrlEvent,
  type FunctionUrlHandler,
  isBinaryResponse,
  type LambdaContext,
} from '../lib/local/function-url.ts';
import { buildManagerApp } from '../lib/manager/build-manager-app.ts';
import { contextualLogger, createLogger, withRequestLogger } from '../lib/observability/logger.ts';

// Composition root of the manager function (DESIGN.md §6) behind a function URL. Config comes
// from the environment (lib/config/manager-env.ts) and is checked at cold start: a bad variable
// fails the init, naming it. Backend, membership and app are built once per execution
// environment; each invocation logs one JSON line with its request id and the cold-start flag.
const config = loadManagerEnv(process.env);
const logger = createLogger({ level: config.logLevel, base: { role: 'manager-function' } });
const app = await buildManagerApp(config, contextualLogger(logger));
const serve = serverless(getRequestListener(app.fetch), { binary: isBinaryResponse });
let coldStart = true;

export const handler: FunctionUrlHandler = async (
  event: FunctionUrlEvent,
  context: LambdaContext,
) => {
  const requestLogger = logger.child({ requestId: context.awsRequestId, coldStart });
  coldStart = false;
  const started = performance.now();
  const result = (await withRequestLogger(requestLogger, () => serve(event, context))) as {
    statusCode?: number;
  };
  requestLogger.info(
    {
      method: event.requestContext.http.method,
      path: event.rawPath,
      status: result.statusCode,
      durationMs: Math.round(performance.now() - started),
    },
    'request',
  );
  return result;
};
