import type { Logger } from 'pino';

/** A crash is logged as one fatal JSON line, then the process exits 1. */
export function exitOnFatalErrors(logger: Logger): void {
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (error) => {
    logger.fatal({ err: error }, 'unhandled rejection');
    process.exit(1);
  });
}

/**
 * SIGTERM or SIGINT runs `shutdown` once and exits 0 when it reports a clean stop, else 1.
 * A second SIGINT (Ctrl-C twice) forces the exit; repeated SIGTERMs (some supervisors resend)
 * are ignored.
 */
export function stopOnSignals(
  logger: Logger,
  shutdown: (signal: NodeJS.Signals) => Promise<boolean>,
): void {
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) {
        logger.warn(
          { signal },
          signal === 'SIGINT' ? 'second SIGINT: exiting now' : 'already stopping',
        );
        if (signal === 'SIGINT') process.exit(1);
        return;
      }
      stopping = true;
      void shutdown(signal).then((clean) => {
        logger.info({ clean }, 'stopped');
        process.exit(clean ? 0 : 1);
      });
    });
  }
}
