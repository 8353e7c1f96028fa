import {
  DiscoverInstancesCommand,
  type DiscoverInstancesCommandOutput,
} from '@aws-sdk/client-servicediscovery';
import { describe, expect, it } from 'vitest';
import { MembershipError } from '../../../lib/manager/errors.ts';
import {
  createCloudMapMembership,
  type DiscoverInstancesClient,
} from '../../../lib/manager/membership/cloudmap-membership.ts';
import { createStaticMembership } from '../../../lib/manager/membership/static-membership.ts';

/** A DiscoverInstances response as Cloud Map returns it for ECS tasks registered by IP. */
const discoverResponse = (): DiscoverInstancesCommandOutput => ({
  $metadata: { httpStatusCode: 200, requestId: 'b5b9f3a4-0000-4e1c-9a5e-1f2d3c4b5a69' },
  InstancesRevision: 7,
  Instances: [
    {
      InstanceId: '5f1c8b0e2a4d4e6f8a0b1c2d3e4f5a6b',
      NamespaceName: 'dfstore.local',
      ServiceName: 'seed-peer',
      HealthStatus: 'HEALTHY',
      Attributes: {
        AWS_INSTANCE_IPV4: '10.0.1.23',
        AWS_INSTANCE_PORT: '65004',
        AVAILABILITY_ZONE: 'eu-west-1a',
        AWS_INIT_HEALTH_STATUS: 'HEALTHY',
        ECS_CLUSTER_NAME: 'dfstore',
        ECS_SERVICE_NAME: 'seed-peer',
        ECS_TASK_DEFINITION_FAMILY: 'dfstore-seed-peer',
        REGION: 'eu-west-1',
        DFSTORE_PIECE_PORT: '65002',
        DFSTORE_HOSTNAME: 'ip-10-0-1-23.eu-west-1.compute.internal',
      },
    },
    {
      InstanceId: '9a8b7c6d5e4f40312a1b0c9d8e7f6a5b',
      NamespaceName: 'dfstore.local',
      ServiceName: 'seed-peer',
      HealthStatus: 'HEALTHY',
      Attributes: {
        AWS_INSTANCE_IPV4: '10.0.2.41',
        DFSTORE_API_PORT: '65014',
        DFSTORE_PIECE_PORT: '65012',
      },
    },
    {
      // As ECS registers a task: address and service port only; pieces on the default port.
      InstanceId: 'ecs-task-3',
      Attributes: { AWS_INSTANCE_IPV4: '10.0.3.5', AWS_INSTANCE_PORT: '65004' },
    },
    {
      // A piece port that is no port: unreachable for pieces, so skipped.
      InstanceId: 'incomplete',
      Attributes: {
        AWS_INSTANCE_IPV4: '10.0.4.9',
        AWS_INSTANCE_PORT: '65004',
        DFSTORE_PIECE_PORT: 'http',
      },
    },
  ],
});

function fakeClient(respond: () => Promise<DiscoverInstancesCommandOutput>) {
  const commands: DiscoverInstancesCommand[] = [];
  const client: DiscoverInstancesClient = {
    send: (command) => {
      commands.push(command);
      return respond();
    },
  };
  return { client, commands };
}

describe('static membership', () => {
  it('serves the configured peers as active, with a default id', async () => {
    const source = createStaticMembership([
      { hostname: 'seed-a', ip: '127.0.0.1', port: 65004, downloadPort: 65002 },
      { id: 'b', hostname: 'seed-b', ip: '127.0.0.2', port: 65014, downloadPort: 65012 },
    ]);
    expect(await source.list()).toEqual([
      {
        id: 'seed-a-127.0.0.1-65004',
        hostname: 'seed-a',
        ip: '127.0.0.1',
        port: 65004,
        downloadPort: 65002,
        state: 'active',
      },
      {
        id: 'b',
        hostname: 'seed-b',
        ip: '127.0.0.2',
        port: 65014,
        downloadPort: 65012,
        state: 'active',
      },
    ]);
  });
});

describe('Cloud Map membership', () => {
  it('asks for the healthy instances of the service and maps their attributes', async () => {
    const { client, commands } = fakeClient(async () => discoverResponse());
    const source = createCloudMapMembership({
      namespace: 'dfstore.local',
      service: 'seed-peer',
      cacheTtlMs: 5000,
      client,
    });

    const peers = await source.list();

    expect(commands).toHaveLength(1);
    expect(commands[0]).toBeInstanceOf(DiscoverInstancesCommand);
    expect(commands[0]?.input).toEqual({
      NamespaceName: 'dfstore.local',
      ServiceName: 'seed-peer',
      HealthStatus: 'HEALTHY',
    });
    expect(peers).toEqual([
      {
        id: '5f1c8b0e2a4d4e6f8a0b1c2d3e4f5a6b',
        hostname: 'ip-10-0-1-23.eu-west-1.compute.internal',
        ip: '10.0.1.23',
        port: 65004,
        downloadPort: 65002,
        state: 'active',
      },
      {
        id: '9a8b7c6d5e4f40312a1b0c9d8e7f6a5b',
        hostname: '10.0.2.41',
        ip: '10.0.2.41',
        port: 65014,
        downloadPort: 65012,
        state: 'active',
      },
      {
        id: 'ecs-task-3',
        hostname: '10.0.3.5',
        ip: '10.0.3.5',
        port: 65004,
        downloadPort: 65002,
        state: 'active',
      },
    ]);
  });

  it('caches the list for the TTL and shares one request between concurrent callers', async () => {
    let clock = 1_000;
    const { client, commands } = fakeClient(async () => discoverResponse());
    const source = createCloudMapMembership({
      namespace: 'dfstore.local',
      service: 'seed-peer',
      cacheTtlMs: 5000,
      client,
      now: () => clock,
    });

    await Promise.all([source.list(), source.list()]);
    clock += 4_999;
    await source.list();
    expect(commands).toHaveLength(1);

    clock += 1;
    await source.list();
    expect(commands).toHaveLength(2);
  });

  it('serves the last good list when a refresh fails', async () => {
    let clock = 0;
    let fail = false;
    const warnings: unknown[] = [];
    const { client } = fakeClient(async () => {
      if (fail) throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
      return discoverResponse();
    });
    const source = createCloudMapMembership({
      namespace: 'dfstore.local',
      service: 'seed-peer',
      cacheTtlMs: 1000,
      client,
      now: () => clock,
      logger: { warn: (object) => warnings.push(object) },
    });
    const first = await source.list();
    fail = true;
    clock += 2000;
    expect(await source.list()).toEqual(first);
    expect(warnings).toHaveLength(2); // the incomplete instance, then the failed refresh
  });

  it('throws MembershipError, naming the service, when nothing was ever discovered', async () => {
    const { client } = fakeClient(async () => {
      throw Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
    });
    const source = createCloudMapMembership({
      namespace: 'dfstore.local',
      service: 'seed-peer',
      cacheTtlMs: 1000,
      client,
    });
    const error = await source.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MembershipError);
    expect((error as Error).message).toBe(
      'Cloud Map DiscoverInstances dfstore.local/seed-peer failed: AccessDeniedException',
    );
  });
});
