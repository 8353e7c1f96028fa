import { loadManagerEnv } from '../lib/config/manager-env.ts';
import { createLambdaHandler } from '../lib/function/lambda-handler.ts';
import type { FunctionUrlHandler } from '../lib/local/function-url.ts';
import { buildManagerApp } from '../lib/manager/build-manager-app.ts';
import { contextualLogger, createLogger } from '../lib/observability/logger.ts';

// Composition root of the manager function (DESIGN.md §6) behind a function URL. Config comes
// from the environment (lib/config/manager-env.ts) and is checked at cold start: a bad variable
// fails the init, naming it. Backend, membership and app are built once per execution
// environment; each invocation logs one JSON line with its request id and the cold-start flag.
const config = loadManagerEnv(process.env);
const logger = createLogger({ level: config.logLevel, base: { role: 'manager-function' } });
const app = await buildManagerApp(config, contextualLogger(logger));

export const handler: FunctionUrlHandler = createLambdaHandler({ fetch: app.fetch, logger });
