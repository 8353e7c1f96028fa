import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { WriteMode } from '../../lib/core/write-mode.ts';
import { type Cluster, type ClusterNode, startCluster } from '../helpers/cluster.ts';
import {
  clientOf,
  closeClients,
  download,
  randomObject,
  s3BackendAt,
  type TestObject,
} from '../helpers/cluster-probes.ts';
import { type CountingProxy, startCountingProxy } from '../helpers/counting-proxy.ts';
import '../helpers/provided-context.ts';

// Cluster-wide coherence of writes: once peer A's DELETE or overwrite has answered, peer B,
// which has the old version cached, never serves it again. No sleeps: the PUT/DELETE answer
// is the synchronisation point (keys/changed reaches every holder before it).
const KiB = 1024;
const MiB = 1024 * KiB;

const s3 = inject('s3');
const bucket = `p2p-coherence-${randomBytes(4).toString('hex')}`;
const rgw = new URL(s3.endpoint);
let proxy: CountingProxy;
let cluster: Cluster;
let a: ClusterNode;
let b: ClusterNode;

beforeAll(async () => {
  proxy = await startCountingProxy(rgw.hostname, Number(rgw.port));
  cluster = await startCluster({
    name: 'coherence',
    backend: s3BackendAt(s3, proxy.url),
    seedPeers: 3,
    peers: 2,
  });
  [a, b] = cluster.peers as [ClusterNode, ClusterNode];
  await clientOf(a).createBucket(bucket);
});

afterAll(async () => {
  await closeClients();
  await cluster?.dispose();
  await proxy?.close();
});

async function put(node: ClusterNode, key: string, object: TestObject, mode: WriteMode) {
  await clientOf(node).putObject(bucket, key, Readable.from([object.data]), { mode });
}

const expected = (object: TestObject) => ({
  status: 200,
  size: object.data.length,
  sha256: object.sha256,
});

describe.each([0, 1] as const)('coherence across peers, mode %i', (mode) => {
  it('a DELETE on A makes B answer 404 at once, though B had it cached', async () => {
    const key = `coherence/mode-${mode}/deleted.bin`;
    const object = randomObject(5 * MiB + 1);
    await put(a, key, object, mode);
    expect(await download(b, bucket, key)).toEqual(expected(object));

    await clientOf(a).deleteObject(bucket, key);

    expect(await download(b, bucket, key)).toMatchObject({ status: 404 });
    expect(await download(a, bucket, key)).toMatchObject({ status: 404 });
  });

  it('an overwrite on A makes B serve the new version at once', async () => {
    const key = `coherence/mode-${mode}/overwritten.bin`;
    const v1 = randomObject(5 * MiB + 2);
    const v2 = randomObject(3 * MiB + 5);
    await put(a, key, v1, mode);
    expect(await download(b, bucket, key)).toEqual(expected(v1));

    await put(a, key, v2, mode);

    expect(await download(b, bucket, key)).toEqual(expected(v2));
    expect(await download(a, bucket, key)).toEqual(expected(v2));
  });

  it('an overwrite of a small object (one piece) is seen at once too', async () => {
    const key = `coherence/mode-${mode}/small.txt`;
    const v1 = randomObject(10 * KiB);
    const v2 = randomObject(10 * KiB);
    await put(a, key, v1, mode);
    expect(await download(b, bucket, key)).toEqual(expected(v1));

    await put(a, key, v2, mode);

    expect(await download(b, bucket, key)).toEqual(expected(v2));
  });
});
