import { parseObjectsFunctionEnv } from '../lib/config/objects-function-env.ts';
import { createObjectsFunction } from '../lib/function/objects-function.ts';
import type { FunctionUrlHandler } from '../lib/local/function-url.ts';
import { createLogger } from '../lib/observability/logger.ts';

// Composition root of the object API function (DESIGN.md §5) behind a function URL (BUFFERED,
// in the VPC). The environment is validated at cold start (lib/config/objects-function-env.ts):
// a bad variable fails the init with a message naming it. Backend, membership, clients and the
// app are built once per execution environment; lib/function/ holds the decisions.
const config = parseObjectsFunctionEnv(process.env);
const logger = createLogger({ level: config.logLevel, base: { role: 'objects-function' } });
const objects = await createObjectsFunction(config, { logger });

export const handler: FunctionUrlHandler = objects.handler;
