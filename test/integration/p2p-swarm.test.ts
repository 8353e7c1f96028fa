import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Cluster, startCluster } from '../helpers/cluster.ts';
import {
  closeClients,
  directS3,
  download,
  metricValue,
  randomObject,
  s3BackendAt,
} from '../helpers/cluster-probes.ts';
import { type CountingProxy, startCountingProxy } from '../helpers/counting-proxy.ts';
import '../helpers/provided-context.ts';

// A swarm of real daemons over the shared Ceph RGW, seen through a counting proxy: 3 seed
// peers, 6 peers and a seventh peer whose piece server corrupts every piece it serves
// (DFSTORE_FAULT_CORRUPT_PIECES). Objects are written straight into S3 with the SDK, so no
// daemon has them: the first reads are cache misses everywhere.
const MiB = 1024 * 1024;
const SEED_PEERS = 3;
const HEALTHY_PEERS = 6;
/** The index (among peers) of the one that serves corrupted pieces. */
const FAULTY = HEALTHY_PEERS;

const s3 = inject('s3');
const bucket = `p2p-swarm-${randomBytes(4).toString('hex')}`;
const rgw = new URL(s3.endpoint);
const direct = directS3(s3);
let proxy: CountingProxy;
let cluster: Cluster;

beforeAll(async () => {
  proxy = await startCountingProxy(rgw.hostname, Number(rgw.port));
  await direct.createBucket(bucket);
  cluster = await startCluster({
    name: 'swarm',
    backend: s3BackendAt(s3, proxy.url),
    seedPeers: SEED_PEERS,
    peers: HEALTHY_PEERS + 1,
    nodeEnv: (role, index) =>
      role === 'peer' && index === FAULTY ? { DFSTORE_FAULT_CORRUPT_PIECES: '1' } : undefined,
  });
});

afterAll(async () => {
  await closeClients();
  await cluster?.dispose();
  await proxy?.close();
  direct.close();
});

const healthyPeers = () => cluster.peers.filter((peer) => peer.index !== FAULTY);

describe('a swarm of peers reading one object that no daemon has', () => {
  it('gives every peer the right bytes from ONE backend GET of the object', async () => {
    const key = 'swarm/64MiB.bin';
    const object = randomObject(64 * MiB);
    await direct.putObject(bucket, key, object);
    proxy.reset();

    const downloads = await Promise.all(healthyPeers().map((peer) => download(peer, bucket, key)));

    for (const [i, got] of downloads.entries()) {
      expect(got, `peer ${i}`).toEqual({
        status: 200,
        size: object.data.length,
        sha256: object.sha256,
      });
    }
    // HEADs (version checks) are allowed; the bytes come from the backend once.
    expect(proxy.count('GET', `/${bucket}/${key}`)).toBe(1);
    expect(proxy.getBytes(`/${bucket}/${key}`)).toBe(64 * MiB);
  });
});

describe('a peer serving corrupted pieces', () => {
  it('cannot corrupt the others: they reject its pieces and still get the right bytes', async () => {
    const key = 'swarm/corrupt-source.bin';
    const object = randomObject(64 * MiB);
    await direct.putObject(bucket, key, object);
    const faulty = cluster.peers[FAULTY];
    if (!faulty) throw new Error('no faulty peer');
    // The faulty peer reads it first: it becomes a holder the others may download from.
    expect(await download(faulty, bucket, key)).toMatchObject({ sha256: object.sha256 });
    const failures = () =>
      Promise.all(
        healthyPeers().map((peer) => metricValue(peer, 'dfstore_p2p_piece_failures_total')),
      ).then((values) => values.reduce((sum, value) => sum + value, 0));
    const before = await failures();

    const downloads = await Promise.all(healthyPeers().map((peer) => download(peer, bucket, key)));

    for (const [i, got] of downloads.entries()) {
      expect(got, `peer ${i}`).toEqual({
        status: 200,
        size: object.data.length,
        sha256: object.sha256,
      });
    }
    expect(await failures()).toBeGreaterThan(before);
  });
});
