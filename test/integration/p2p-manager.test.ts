import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Cluster, type ClusterNode, startCluster } from '../helpers/cluster.ts';
import {
  clientOf,
  closeClients,
  directS3,
  download,
  randomObject,
  s3BackendAt,
} from '../helpers/cluster-probes.ts';
import { type CountingProxy, startCountingProxy } from '../helpers/counting-proxy.ts';
import '../helpers/provided-context.ts';

// The manager as the cluster's config source: daemons keep their last good config while it is
// down, and pick up a changed object-storage endpoint from it within a couple of refresh
// intervals, without a restart. Both endpoints are counting proxies in front of the same RGW,
// so the proxy a request went through tells which config the daemon used.
const KiB = 1024;
const REFRESH_MS = 1000;

const s3 = inject('s3');
const bucket = `p2p-manager-${randomBytes(4).toString('hex')}`;
const rgw = new URL(s3.endpoint);
const direct = directS3(s3);
let first: CountingProxy;
let second: CountingProxy;
let cluster: Cluster;
let pids: number[];

beforeAll(async () => {
  first = await startCountingProxy(rgw.hostname, Number(rgw.port));
  second = await startCountingProxy(rgw.hostname, Number(rgw.port));
  await direct.createBucket(bucket);
  cluster = await startCluster({
    name: 'manager',
    backend: s3BackendAt(s3, first.url),
    seedPeers: 1,
    peers: 2,
    refreshInterval: `${REFRESH_MS / 1000}s`,
  });
  pids = cluster.nodes().map((node) => node.pid);
});

afterAll(async () => {
  await closeClients();
  await cluster?.dispose();
  await first?.close();
  await second?.close();
  direct.close();
});

const peer = (i: number): ClusterNode => {
  const node = cluster.peers[i];
  if (!node) throw new Error(`no peer ${i}`);
  return node;
};

/** PUT through peer 0 (mode 1), GET through peer 1: the bytes must match. */
async function writeAndRead(key: string): Promise<void> {
  const object = randomObject(64 * KiB + 3);
  await clientOf(peer(0)).putObject(bucket, key, Readable.from([object.data]), { mode: 1 });
  expect(await download(peer(1), bucket, key)).toEqual({
    status: 200,
    size: object.data.length,
    sha256: object.sha256,
  });
}

describe('the daemons and their manager', () => {
  it('work with the manager up', async () => {
    await writeAndRead('manager/up.bin');
  });

  it('keep working on their last good config while the manager is down', async () => {
    await cluster.manager.stop();
    await sleep(2.5 * REFRESH_MS); // refreshes fail meanwhile

    await writeAndRead('manager/down.bin');
    await writeAndRead('manager/down-2.bin');
  });

  it('pick up a changed backend endpoint from the restarted manager, without a restart', async () => {
    await cluster.manager.start({ backend: s3BackendAt(s3, second.url) });
    const restarted = Date.now();

    // A fresh object per attempt: each GET is a miss that has to reach the backend.
    let switchedAfterMs: number | undefined;
    for (let attempt = 0; Date.now() - restarted < 2 * REFRESH_MS + 2_000; attempt++) {
      const key = `manager/switch-${attempt}.bin`;
      const object = randomObject(32 * KiB);
      await direct.putObject(bucket, key, object);
      expect(await download(peer(1), bucket, key)).toMatchObject({ sha256: object.sha256 });
      if (second.count('GET', `/${bucket}/${key}`) > 0) {
        expect(first.count('GET', `/${bucket}/${key}`)).toBe(0);
        switchedAfterMs = Date.now() - restarted;
        break;
      }
      await sleep(200);
    }
    console.log(`[p2p-manager] backend endpoint switched after ${switchedAfterMs} ms`);
    expect(switchedAfterMs, 'a GET miss went through the new endpoint').toBeDefined();
    expect(cluster.nodes().map((node) => node.pid)).toEqual(pids);
  });
});
