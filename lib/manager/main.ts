import { Command, Option } from 'commander';
import packageJson from '../../package.json' with { type: 'json' };
import { loadManagerConfig } from '../config/load-manager-config.ts';
import { ConfigError } from '../config/manager-config.ts';
import { createLogger } from '../observability/logger.ts';
import { exitOnFatalErrors, stopOnSignals } from '../observability/process-lifecycle.ts';
import { startManagerServer } from './manager-server.ts';

// Composition root of `dfstore-manager` (bin/dfstore-manager.js loads this file). Exit codes:
// 0 after a graceful stop, 1 on a startup or shutdown failure, 2 for a bad config or flag.
const options = new Command('dfstore-manager')
  .description('dfstore manager: object storage, bucket, seed-peer and peer config endpoint')
  .version(packageJson.version)
  .addOption(
    new Option('-c, --config <path>', 'YAML config file (none: every default)').env(
      'DFSTORE_MANAGER_CONFIG',
    ),
  )
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
  .parse(process.argv)
  .opts<{ config?: string }>();

const config = await loadManagerConfig(options.config, process.env).catch((error: unknown) => {
  const message = error instanceof ConfigError ? error.message : String(error);
  process.stderr.write(`Error: ${message}\n`);
  process.exit(2);
});

const logger = createLogger({ level: config.logLevel, base: { role: 'manager' } });
exitOnFatalErrors(logger);

const server = await startManagerServer(config, logger).catch((error: unknown) => {
  logger.fatal({ err: error }, 'startup failed');
  process.exit(1);
});

stopOnSignals(logger, (signal) => server.shutdown(signal));

// Tests and the local cluster wait for this line; the port is the real one (port 0 works).
logger.info(
  {
    manager: server.url,
    backend: config.backend.name,
    membership: config.cloudMap ? 'cloudmap' : 'static',
    version: packageJson.version,
  },
  'ready',
);
