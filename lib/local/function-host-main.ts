import { basename, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/config-file.ts';
import { LOG_LEVELS } from '../config/peer-config-schema.ts';
import { createLogger } from '../observability/logger.ts';
import { exitOnFatalErrors, stopOnSignals } from '../observability/process-lifecycle.ts';
import { startFunctionHost } from './function-host.ts';
import type { FunctionUrlHandler } from './function-url.ts';

// `node bin/dfstore-function-host.js --handler functions/manager.ts --port 65003`: serves a
// Lambda handler module (its `handler` export) as a function URL would (function-host.ts). The
// module reads its config from this process's environment at import, as on a cold start.
// Exit codes: 0 after a graceful stop, 1 on a startup failure, 2 for a bad flag or a function
// config error (the module's ConfigError, naming the variable).
const USAGE = `usage: dfstore-function-host --handler <module> --port <port> [--listen 127.0.0.1]
  [--name <function name>] [--timeout <seconds>]`;

let values: { handler?: string; port?: string; listen?: string; name?: string; timeout?: string };
try {
  ({ values } = parseArgs({
    options: {
      handler: { type: 'string' },
      port: { type: 'string' },
      listen: { type: 'string' },
      name: { type: 'string' },
      timeout: { type: 'string' },
    },
    strict: true,
  }));
} catch (error) {
  usage((error as Error).message);
}
const port = Number(values.port);
const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
if (!values.handler) usage('--handler is required');
if (!/^\d+$/.test(values.port ?? '') || port > 65535) usage('--port must be 0..65535');
if (timeout !== undefined && !(timeout > 0 && timeout <= 900)) usage('--timeout must be 1..900');
const modulePath = resolve(values.handler);
const name = values.name ?? basename(modulePath, extname(modulePath));

const levelEnv = process.env.DFSTORE_LOG_LEVEL ?? 'info';
const level = (LOG_LEVELS as readonly string[]).includes(levelEnv) ? levelEnv : 'info';
const logger = createLogger({
  level: level as (typeof LOG_LEVELS)[number],
  base: { role: 'function-host' },
});
exitOnFatalErrors(logger);

let handler: FunctionUrlHandler;
try {
  const loaded = (await import(pathToFileURL(modulePath).href)) as { handler?: unknown };
  if (typeof loaded.handler !== 'function') throw new Error(`${modulePath} exports no handler`);
  handler = loaded.handler as FunctionUrlHandler;
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`Error: ${error.message}\n`);
    process.exit(2);
  }
  logger.fatal({ err: error, module: modulePath }, 'function init failed');
  process.exit(1);
}

const host = await startFunctionHost({
  handler,
  name,
  port,
  listen: values.listen,
  logger,
  timeoutMs: timeout === undefined ? undefined : timeout * 1000,
}).catch((error: unknown) => {
  logger.fatal({ err: error }, 'startup failed');
  process.exit(1);
});

stopOnSignals(logger, async (signal) => {
  logger.info({ signal }, 'stopping');
  await host.close();
  return true;
});

// The local cluster waits for this line; the port is the real one (port 0 works).
logger.info({ url: host.url, module: modulePath }, 'ready');

function usage(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}
