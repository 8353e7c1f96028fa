import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rankSeedPeers } from '../../lib/peer/placement.ts';
import { type Cluster, type ClusterNode, startCluster } from '../helpers/cluster.ts';
import {
  clientOf,
  closeClients,
  holds,
  randomObject,
  s3BackendAt,
  type TestObject,
  taskIdOf,
} from '../helpers/cluster-probes.ts';
import { type CountingProxy, startCountingProxy } from '../helpers/counting-proxy.ts';
import '../helpers/provided-context.ts';

// Replication of a PUT to seed peers: the first `maxReplicas` (the request's field) in
// rendezvous rank for the version's task hold it, and no other; a dead owner is replaced by the
// next in rank. The manager's default maxReplicas is 3, so 2 is the request's doing.
const MiB = 1024 * 1024;
const REPLICATION_TIMEOUT_MS = 10_000;

const s3 = inject('s3');
const bucket = `p2p-replicas-${randomBytes(4).toString('hex')}`;
const rgw = new URL(s3.endpoint);
let proxy: CountingProxy;
let cluster: Cluster;

beforeAll(async () => {
  proxy = await startCountingProxy(rgw.hostname, Number(rgw.port));
  cluster = await startCluster({
    name: 'replicas',
    backend: s3BackendAt(s3, proxy.url),
    seedPeers: 3,
    peers: 1,
    maxReplicas: 3,
  });
  await clientOf(writer()).createBucket(bucket);
});

afterAll(async () => {
  await closeClients();
  await cluster?.dispose();
  await proxy?.close();
});

const writer = (): ClusterNode => {
  const peer = cluster.peers[0];
  if (!peer) throw new Error('no peer');
  return peer;
};

async function put(key: string, object: TestObject): Promise<void> {
  await clientOf(writer()).putObject(bucket, key, Readable.from([object.data]), {
    mode: 1,
    maxReplicas: 2,
  });
}

/** Which of `nodes` hold the task, by id. */
async function holders(nodes: readonly ClusterNode[], taskId: string): Promise<string[]> {
  const held = await Promise.all(nodes.map((node) => holds(node, taskId)));
  return nodes.filter((_, i) => held[i]).map((node) => node.id);
}

describe('replicas of a mode-1 PUT with maxReplicas 2', () => {
  it('land on exactly the top 2 seed peers in rank for the task, not on the third', async () => {
    const key = 'replicas/top-two.bin';
    const object = randomObject(5 * MiB + 3);
    const taskId = taskIdOf(bucket, key, object, { filter: cluster.filter });
    const [first, second, third] = rankSeedPeers(taskId, cluster.seedPeers);
    if (!first || !second || !third) throw new Error('3 seed peers expected');

    await put(key, object);

    await expect
      .poll(() => holders(cluster.seedPeers, taskId), {
        timeout: REPLICATION_TIMEOUT_MS,
        interval: 200,
      })
      .toEqual(expect.arrayContaining([first.id, second.id]));
    expect(await holders(cluster.seedPeers, taskId)).not.toContain(third.id);
    await sleep(1000);
    expect((await holders(cluster.seedPeers, taskId)).sort()).toEqual([first.id, second.id].sort());
  });

  it('skip a dead rank-0 owner: ranks 1 and 2 hold the version', async () => {
    const key = 'replicas/owner-down.bin';
    const object = randomObject(5 * MiB + 7);
    const taskId = taskIdOf(bucket, key, object, { filter: cluster.filter });
    const [dead, second, third] = rankSeedPeers(taskId, cluster.seedPeers);
    if (!dead || !second || !third) throw new Error('3 seed peers expected');
    await dead.kill();

    await put(key, object);

    const alive = [second, third];
    await expect
      .poll(() => holders(alive, taskId), { timeout: REPLICATION_TIMEOUT_MS, interval: 200 })
      .toEqual([second.id, third.id]);
  });
});
