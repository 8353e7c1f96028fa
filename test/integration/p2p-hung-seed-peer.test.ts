import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Cluster, type ClusterNode, startCluster } from '../helpers/cluster.ts';
import {
  clientOf,
  closeClients,
  download,
  randomObject,
  s3BackendAt,
} from '../helpers/cluster-probes.ts';
import '../helpers/provided-context.ts';

// A seed peer that hangs (SIGSTOP: the kernel still accepts its connections, nothing answers,
// as with a black-holed address a static membership keeps listing) costs one cluster request
// timeout (5 s), once: after that first failure the peers stop waiting on it
// (lib/peer/suspect-peers.ts). Before, every PUT and DELETE waited the full timeout for it.
const MiB = 1024 * 1024;
/** Far below the 5 s timeout a PUT would wait if it still waited on the hung seed peer. */
const WELL_UNDER_TIMEOUT_MS = 2_500;

const s3 = inject('s3');
const bucket = `p2p-hung-${randomBytes(4).toString('hex')}`;
let cluster: Cluster;
let a: ClusterNode;
let b: ClusterNode;
let hung: ClusterNode;

beforeAll(async () => {
  cluster = await startCluster({
    name: 'hung-seed',
    backend: s3BackendAt(s3, s3.endpoint),
    seedPeers: 2,
    peers: 2,
  });
  [a, b] = cluster.peers as [ClusterNode, ClusterNode];
  hung = cluster.seedPeers[1] as ClusterNode;
  await clientOf(a).createBucket(bucket);
});

afterAll(async () => {
  if (hung) process.kill(hung.pid, 'SIGCONT');
  await closeClients();
  await cluster?.dispose();
});

async function timedPut(key: string, data: Buffer, mode: 0 | 1): Promise<number> {
  const started = performance.now();
  await clientOf(a).putObject(bucket, key, Readable.from([data]), { mode });
  return performance.now() - started;
}

describe('a hung seed peer', () => {
  it('costs PUTs and DELETEs one timeout, not one each', { timeout: 90_000 }, async () => {
    process.kill(hung.pid, 'SIGSTOP');
    // The first write finds out (it may wait up to the 5 s timeout).
    await timedPut('hung/first.bin', randomObject(64 * 1024).data, 0);

    const objects = Array.from({ length: 4 }, () => randomObject(MiB + 3));
    const times: number[] = [];
    for (const [i, object] of objects.entries()) {
      times.push(await timedPut(`hung/next-${i}.bin`, object.data, i % 2 === 0 ? 0 : 1));
    }
    const deleted = performance.now();
    await clientOf(a).deleteObject(bucket, 'hung/next-0.bin');
    times.push(performance.now() - deleted);
    for (const ms of times) expect(ms).toBeLessThan(WELL_UNDER_TIMEOUT_MS);

    // Everything written meanwhile is readable from another peer, right bytes.
    for (const [i, object] of objects.entries()) {
      if (i === 0) continue;
      expect(await download(b, bucket, `hung/next-${i}.bin`)).toEqual({
        status: 200,
        size: object.data.length,
        sha256: object.sha256,
      });
    }
    expect(await download(b, bucket, 'hung/next-0.bin')).toMatchObject({ status: 404 });
  });
});
