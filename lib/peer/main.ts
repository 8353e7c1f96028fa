import { Command, Option } from 'commander';
import packageJson from '../../package.json' with { type: 'json' };
import { ConfigError, loadPeerConfig } from '../config/peer-config.ts';
import { createLogger } from '../observability/logger.ts';
import { exitOnFatalErrors, stopOnSignals } from '../observability/process-lifecycle.ts';
import { startDaemon } from './daemon.ts';

// Composition root of `dfstore-daemon` (bin/dfstore-daemon.js loads this file). Exit codes:
// 0 after a graceful stop, 1 on a startup or shutdown failure, 2 for a bad config or flag.
const options = new Command('dfstore-daemon')
  .description('dfstore peer daemon: object API, piece cache and piece server')
  .version(packageJson.version)
  .addOption(
    new Option('-c, --config <path>', 'YAML config file (none: every default)').env(
      'DFSTORE_CONFIG',
    ),
  )
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
  .parse(process.argv)
  .opts<{ config?: string }>();

const config = await loadPeerConfig(options.config, process.env).catch((error: unknown) => {
  const message = error instanceof ConfigError ? error.message : String(error);
  process.stderr.write(`Error: ${message}\n`);
  process.exit(2);
});

// One access line per request: written asynchronously, in batches under load (the synchronous
// write was ~9 % of a small GET's CPU; bench/small.ts). Flushed on exit.
const logger = createLogger({ level: config.logLevel, base: { role: config.role }, sync: false });
exitOnFatalErrors(logger);

const daemon = await startDaemon(config, logger).catch((error: unknown) => {
  logger.fatal({ err: error }, 'startup failed');
  process.exit(1);
});

stopOnSignals(logger, (signal) => daemon.shutdown(signal));

// Tests and the local cluster wait for this line; ports are the real ones (port 0 works).
logger.info(
  {
    ...daemon.endpoints,
    role: config.role,
    dataDir: config.storage.dataDir,
    backend: config.backend.name,
    version: packageJson.version,
  },
  'ready',
);
