import type { ManagerConfig } from '../config/manager-config.ts';
import type { Logger } from '../observability/logger.ts';
import { type Listener, startListener } from '../peer/http-listener.ts';
import { buildManagerApp, type ManagerAppDeps } from './build-manager-app.ts';

export interface ManagerServer {
  readonly url: string;
  readonly port: number;
  /** Stops accepting and lets in-flight requests finish; true when nothing was cut off. */
  shutdown(signal: string): Promise<boolean>;
}

export type ManagerServerDeps = ManagerAppDeps;

/** Builds the manager app the config describes and serves it. */
export async function startManagerServer(
  config: ManagerConfig,
  logger: Logger,
  deps: ManagerServerDeps = {},
): Promise<ManagerServer> {
  const app = await buildManagerApp(config, logger, deps);
  // The manager shares the peers' listener (same server limits and graceful close).
  const listener: Listener = await startListener({
    name: 'manager',
    app,
    tcpListen: { listen: config.listen, port: { start: config.port, end: config.port } },
  });
  return {
    url: listener.url,
    port: listener.port,
    async shutdown(signal) {
      logger.info({ signal }, 'stopping');
      return listener.close(config.shutdownTimeoutMs);
    },
  };
}
