import type {
  DiscoverInstancesCommand,
  DiscoverInstancesCommandOutput,
  HttpInstanceSummary,
} from '@aws-sdk/client-servicediscovery';
import { DEFAULT_PIECE_PORT } from '../../config/peer-config-schema.ts';
import type { LogMethods } from '../../observability/logger.ts';
import { MembershipError } from '../errors.ts';
import type { MembershipSource, SeedPeer } from './membership-source.ts';

/**
 * Instance attributes read from Cloud Map. ECS registers only `AWS_INSTANCE_IPV4` and
 * `AWS_INSTANCE_PORT` (the object API port); the custom ones are optional: without
 * `DFSTORE_PIECE_PORT` the piece server is taken to be on its default port.
 */
export const CLOUDMAP_ATTRIBUTES = {
  ip: 'AWS_INSTANCE_IPV4',
  port: 'DFSTORE_API_PORT',
  instancePort: 'AWS_INSTANCE_PORT',
  downloadPort: 'DFSTORE_PIECE_PORT',
  hostname: 'DFSTORE_HOSTNAME',
} as const;

/** The one call this source makes; a ServiceDiscoveryClient satisfies it, tests pass a fake. */
export interface DiscoverInstancesClient {
  send(command: DiscoverInstancesCommand): Promise<DiscoverInstancesCommandOutput>;
}

export interface CloudMapMembershipOptions {
  readonly namespace: string;
  readonly service: string;
  /** How long a discovered list is served before asking Cloud Map again. */
  readonly cacheTtlMs: number;
  /** Default: a ServiceDiscoveryClient from the default region and credential chain. */
  readonly client?: DiscoverInstancesClient;
  readonly now?: () => number;
  readonly logger?: Pick<LogMethods, 'warn'>;
}

/**
 * Healthy seed peers registered in a Cloud Map service. Results are cached for `cacheTtlMs`
 * (DiscoverInstances is rate limited per account) and concurrent callers share one request.
 * When a refresh fails, the last good list is served if there is one.
 */
export function createCloudMapMembership(options: CloudMapMembershipOptions): MembershipSource {
  // The SDK loads on the first discovery (~100 ms): static membership never needs it.
  let client = options.client;
  const now = options.now ?? Date.now;
  let cached: { peers: SeedPeer[]; at: number } | undefined;
  let inflight: Promise<SeedPeer[]> | undefined;

  const discover = async (): Promise<SeedPeer[]> => {
    let output: DiscoverInstancesCommandOutput;
    try {
      // Without MaxResults Cloud Map returns up to 100 instances, far above any seed-peer count.
      const sdk = await import('@aws-sdk/client-servicediscovery');
      client ??= new sdk.ServiceDiscoveryClient({});
      output = await client.send(
        new sdk.DiscoverInstancesCommand({
          NamespaceName: options.namespace,
          ServiceName: options.service,
          HealthStatus: 'HEALTHY',
        }),
      );
    } catch (error) {
      if (cached) {
        options.logger?.warn(
          { err: error, namespace: options.namespace, service: options.service },
          'Cloud Map discovery failed; serving the last seed-peer list',
        );
        return cached.peers;
      }
      const reason = (error as { name?: string }).name ?? 'Error';
      throw new MembershipError(
        `Cloud Map DiscoverInstances ${options.namespace}/${options.service} failed: ${reason}`,
        { cause: error },
      );
    }
    const peers: SeedPeer[] = [];
    for (const instance of output.Instances ?? []) {
      const peer = toSeedPeer(instance);
      if (peer) peers.push(peer);
      else
        options.logger?.warn(
          { instanceId: instance.InstanceId },
          'Cloud Map instance without an IPv4 address or ports; skipped',
        );
    }
    cached = { peers, at: now() };
    return peers;
  };

  return {
    async list() {
      if (cached && now() - cached.at < options.cacheTtlMs) return clone(cached.peers);
      inflight ??= discover().finally(() => {
        inflight = undefined;
      });
      return clone(await inflight);
    },
  };
}

/** Maps one instance; undefined when the attributes needed to reach it are missing. */
export function toSeedPeer(instance: HttpInstanceSummary): SeedPeer | undefined {
  const attributes = instance.Attributes ?? {};
  const ip = attributes[CLOUDMAP_ATTRIBUTES.ip];
  const port = parsePort(
    attributes[CLOUDMAP_ATTRIBUTES.port] ?? attributes[CLOUDMAP_ATTRIBUTES.instancePort],
  );
  const downloadPort = parsePort(
    attributes[CLOUDMAP_ATTRIBUTES.downloadPort] ?? String(DEFAULT_PIECE_PORT),
  );
  if (!ip || !instance.InstanceId || port === undefined || downloadPort === undefined) {
    return undefined;
  }
  return {
    id: instance.InstanceId,
    hostname: attributes[CLOUDMAP_ATTRIBUTES.hostname] || ip,
    ip,
    port,
    downloadPort,
    state: 'active',
  };
}

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,5}$/.test(value)) return undefined;
  const port = Number(value);
  return port >= 1 && port <= 65535 ? port : undefined;
}

function clone(peers: readonly SeedPeer[]): SeedPeer[] {
  return peers.map((peer) => ({ ...peer }));
}
