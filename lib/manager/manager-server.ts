import { createBackend } from '../backends/create-backend.ts';
import type { ManagerConfig } from '../config/manager-config.ts';
import type { Logger } from '../observability/logger.ts';
import { type Listener, startListener } from '../peer/http-listener.ts';
import { createManagerApp } from './create-manager-app.ts';
import {
  createCloudMapMembership,
  type DiscoverInstancesClient,
} from './membership/cloudmap-membership.ts';
import type { MembershipSource } from './membership/membership-source.ts';
import { createStaticMembership } from './membership/static-membership.ts';

export interface ManagerServer {
  readonly url: string;
  readonly port: number;
  /** Stops accepting and lets in-flight requests finish; true when nothing was cut off. */
  shutdown(signal: string): Promise<boolean>;
}

export interface ManagerServerDeps {
  /** For Cloud Map membership; default: the SDK client from the default chain. */
  readonly serviceDiscovery?: DiscoverInstancesClient;
}

/** Builds the backend and membership source the config names and serves the manager app. */
export async function startManagerServer(
  config: ManagerConfig,
  logger: Logger,
  deps: ManagerServerDeps = {},
): Promise<ManagerServer> {
  const backend = await createBackend(config.backend);
  const app = createManagerApp({
    backend: () => backend,
    backendConfig: () => config.backend,
    membership: createMembership(config, logger, deps),
    peerConfig: {
      filter: config.peerConfig.filter,
      maxReplicas: config.peerConfig.maxReplicas,
      refreshInterval: Math.round(config.peerConfig.refreshInterval / 1000),
    },
    logger,
  });
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

function createMembership(
  config: ManagerConfig,
  logger: Logger,
  deps: ManagerServerDeps,
): MembershipSource {
  if (!config.cloudMap) return createStaticMembership(config.seedPeers);
  return createCloudMapMembership({
    ...config.cloudMap,
    client: deps.serviceDiscovery,
    logger,
  });
}
