import type { Hono } from 'hono';
import { createBackend } from '../backends/create-backend.ts';
import type { ManagerConfig } from '../config/manager-config.ts';
import type { LogMethods } from '../observability/logger.ts';
import { createManagerApp } from './create-manager-app.ts';
import {
  createCloudMapMembership,
  type DiscoverInstancesClient,
} from './membership/cloudmap-membership.ts';
import type { MembershipSource } from './membership/membership-source.ts';
import { createStaticMembership } from './membership/static-membership.ts';

/** What the manager app needs of the config (listen address and timeouts belong to a host). */
export type ManagerAppConfig = Pick<
  ManagerConfig,
  'backend' | 'seedPeers' | 'cloudMap' | 'peerConfig'
>;

export interface ManagerAppDeps {
  /** For Cloud Map membership; default: the SDK client from the default chain. */
  readonly serviceDiscovery?: DiscoverInstancesClient;
}

/**
 * The manager app for `config`: the backend and membership source it names and the peer config
 * it serves. Every host builds it here: the process (manager-server.ts) and the function
 * (functions/manager.ts).
 */
export async function buildManagerApp(
  config: ManagerAppConfig,
  logger: LogMethods,
  deps: ManagerAppDeps = {},
): Promise<Hono> {
  const backend = await createBackend(config.backend);
  return createManagerApp({
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
}

function createMembership(
  config: ManagerAppConfig,
  logger: LogMethods,
  deps: ManagerAppDeps,
): MembershipSource {
  if (!config.cloudMap) return createStaticMembership(config.seedPeers);
  return createCloudMapMembership({
    ...config.cloudMap,
    client: deps.serviceDiscovery,
    logger,
  });
}
