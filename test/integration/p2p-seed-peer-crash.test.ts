import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rankSeedPeers } from '../../lib/peer/placement.ts';
import { type Cluster, startCluster } from '../helpers/cluster.ts';
import {
  closeClients,
  directS3,
  download,
  randomObject,
  s3BackendAt,
  taskIdOf,
} from '../helpers/cluster-probes.ts';
import { type CountingProxy, startCountingProxy } from '../helpers/counting-proxy.ts';
import '../helpers/provided-context.ts';

// A seed peer crashing in the middle of a swarm download: the task's tracker (its rank-0
// owner) is SIGKILLed once the first bytes reached a client. The peers carry on with the next
// owner and each other, or the backend, and every download completes with the right bytes.
const MiB = 1024 * 1024;

const s3 = inject('s3');
const bucket = `p2p-crash-${randomBytes(4).toString('hex')}`;
const rgw = new URL(s3.endpoint);
const direct = directS3(s3);
let proxy: CountingProxy;
let cluster: Cluster;

beforeAll(async () => {
  proxy = await startCountingProxy(rgw.hostname, Number(rgw.port));
  await direct.createBucket(bucket);
  cluster = await startCluster({
    name: 'crash',
    backend: s3BackendAt(s3, proxy.url),
    seedPeers: 3,
    peers: 4,
  });
});

afterAll(async () => {
  await closeClients();
  await cluster?.dispose();
  await proxy?.close();
  direct.close();
});

describe('the tracker seed peer dies during a swarm download', () => {
  it('every download still completes with the right sha256', async () => {
    const key = 'crash/64MiB.bin';
    const object = randomObject(64 * MiB);
    // With dfstore's digest metadata the task ID is known here, hence its tracker.
    await direct.putObject(bucket, key, object, true);
    const taskId = taskIdOf(bucket, key, object, { filter: cluster.filter });
    const [tracker] = rankSeedPeers(taskId, cluster.seedPeers);
    if (!tracker) throw new Error('no seed peer ranked');

    proxy.reset();
    let killed: Promise<unknown> | undefined;
    const killTracker = () => {
      killed ??= tracker.kill();
    };
    const downloads = await Promise.all(
      cluster.peers.map((peer) => download(peer, bucket, key, { onFirstBytes: killTracker })),
    );

    expect(killed, 'the tracker was killed during the downloads').toBeDefined();
    expect((await tracker.exited).signal).toBe('SIGKILL');
    // The survivors carried on in the swarm: the dead tracker's backend read and at most one
    // more, by the next owner in rank (a peer reading the backend itself would add one each).
    const gets = proxy.count('GET', `/${bucket}/${key}`);
    const bytes = proxy.getBytes(`/${bucket}/${key}`);
    console.log(`[p2p-seed-peer-crash] backend GETs of the object: ${gets}, ${bytes} B`);
    expect(gets).toBeGreaterThanOrEqual(1);
    expect(gets).toBeLessThanOrEqual(2);
    for (const [i, got] of downloads.entries()) {
      expect(got, `peer ${i}`).toEqual({
        status: 200,
        size: object.data.length,
        sha256: object.sha256,
      });
    }
  });
});
