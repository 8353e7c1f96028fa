import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBackend } from '../../lib/backends/create-backend.ts';
import type { ObjectBackend } from '../../lib/backends/object-backend.ts';
import { rankSeedPeers } from '../../lib/peer/placement.ts';
import { type Cluster, type ClusterNode, startCluster } from '../helpers/cluster.ts';
import {
  clientOf,
  closeClients,
  download,
  holds,
  metricValue,
  s3BackendAt,
  taskIdOf,
} from '../helpers/cluster-probes.ts';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.ts';
import { backendCopy, type SeededObject, seededObject } from '../helpers/seeded-objects.ts';
import '../helpers/provided-context.ts';

// A seed peer SIGKILLed while two peers write mode-0 objects (acked from their journals, then
// written back and replicated to the two owner seed peers of each task), and restarted on the
// same ports and data dir. The seed peer has acked mode-0 writes of its own too (as it does for
// the object API function), which S3 refused until then (the fault proxy 500s their PUTs), so
// they exist only in its journal when it dies. Nothing acknowledged is lost: every acked key
// reads back with its sha256 from every daemon and lands in S3; the restarted seed peer serves
// again and new writes replicate to it, with no operator action.
const s3 = inject('s3');
const bucket = `seed-fault-${randomBytes(4).toString('hex')}`;
const MAX_REPLICAS = 2;
const WRITES_PER_PHASE = 8;
const CONCURRENCY = 3;

let cluster: Cluster;
let proxy: FaultProxy;
let direct: ObjectBackend;

interface Acked extends SeededObject {
  readonly taskId: string;
  readonly writer: string;
}
const acked: Acked[] = [];
const failures: string[] = [];
let seq = 0;

beforeAll(async () => {
  const rgw = new URL(s3.endpoint);
  proxy = await startFaultProxy(rgw.hostname, Number(rgw.port));
  cluster = await startCluster({
    name: 'seed-fault',
    backend: s3BackendAt(s3, proxy.url),
    seedPeers: 3,
    peers: 2,
    maxReplicas: MAX_REPLICAS,
    nodeConfig: () => ({
      objectStorage: { writeBack: { retryBase: '200ms', retryCap: '2s' } },
    }),
  });
  direct = await createBackend({ name: 's3', forcePathStyle: true, ...s3 });
  await clientOf(peer(0)).createBucket(bucket);
});

afterAll(async () => {
  await closeClients();
  await cluster?.dispose();
  await proxy?.close();
});

function peer(i: number): ClusterNode {
  const node = cluster.peers[i];
  if (!node) throw new Error(`no peer ${i}`);
  return node;
}

const victim = (): ClusterNode => cluster.seedPeers[0] as ClusterNode;

async function putOne(object: SeededObject, writer: ClusterNode): Promise<void> {
  try {
    await clientOf(writer).putObject(bucket, object.key, Readable.from([object.data]), {
      mode: 0,
      maxReplicas: MAX_REPLICAS,
    });
    const taskId = taskIdOf(bucket, object.key, object, { filter: cluster.filter });
    acked.push({ ...object, taskId, writer: writer.id });
  } catch (error) {
    failures.push(`${object.key}: ${(error as Error).message}`);
  }
}

/** `count` mode-0 PUTs, `CONCURRENCY` at a time, alternating between the two peers. */
async function writeMany(
  label: string,
  count: number,
  writer: (n: number) => ClusterNode = (n) => peer(n % 2),
): Promise<void> {
  const queue = Array.from({ length: count }, () => seq++);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
        const size = 1 + ((n * 7919 * 131) % (1024 * 1024));
        const object = await seededObject(`seed-fault/${label}-${n}.bin`, size, 9000 + n);
        await putOne(object, writer(n));
      }
    }),
  );
}

async function drained(): Promise<boolean> {
  const pending = await Promise.all(
    cluster.nodes().map((node) => metricValue(node, 'dfstore_journal_pending')),
  );
  return pending.every((n) => n === 0);
}

describe('a seed peer killed during mode-0 writes and replication', () => {
  it('writes go on while the seed peer is killed and restarted', async () => {
    // S3 refuses the write-backs of the seed peer's own writes: they live in its journal only.
    proxy.inject({ action: { kind: 'error', status: 500 }, method: 'PUT', path: /\/victim-/ });
    await writeMany('victim', 4, victim);
    await writeMany('before', WRITES_PER_PHASE);
    // Killed while the write-backs and replications of the first phase are still running.
    const writes = writeMany('during', WRITES_PER_PHASE);
    await victim().kill();
    await writes;
    expect((await victim().exited).signal).toBe('SIGKILL');
    const restarting = victim().restart();
    await writeMany('restart', WRITES_PER_PHASE);
    await restarting;
    console.log(
      `[fault-seed-peer] ${acked.length} mode-0 PUTs acked, ${failures.length} failed` +
        (failures.length ? `: ${failures.slice(0, 3).join('; ')}` : ''),
    );
    // A mode-0 PUT needs only the writer's own cache and journal: none may fail.
    expect(failures).toEqual([]);
    expect(proxy.counts().error).toBeGreaterThan(0);
    expect(await metricValue(victim(), 'dfstore_journal_pending')).toBe(4);
    proxy.clear();
  });

  it('every acked write lands in S3 byte-identical (write-backs drain, no operator action)', async () => {
    await expect.poll(drained, { timeout: 60_000, interval: 250 }).toBe(true);
    for (const object of acked) expect(await backendCopy(direct, bucket, object)).toBe('ok');
  });

  it('every acked key reads back with its sha256 from every daemon, the restarted one too', async () => {
    for (const node of cluster.nodes()) {
      const results = await Promise.all(acked.map((o) => download(node, bucket, o.key)));
      for (const [i, got] of results.entries()) {
        const object = acked[i] as Acked;
        expect(got, `${node.id} GET ${object.key}`).toEqual({
          status: 200,
          size: object.size,
          sha256: object.sha256,
        });
      }
    }
  });

  it('new writes replicate to the restarted seed peer again', async () => {
    const mine: Acked[] = [];
    for (let n = 0; mine.length < 3 && n < 50; n++) {
      const object = await seededObject(`seed-fault/after-${n}.bin`, 300 * 1024 + n, 7000 + n);
      const taskId = taskIdOf(bucket, object.key, object, { filter: cluster.filter });
      const owners = rankSeedPeers(taskId, cluster.seedPeers).slice(0, MAX_REPLICAS);
      if (!owners.some((owner) => owner.id === victim().id)) continue;
      await putOne(object, peer(n % 2));
      mine.push({ ...object, taskId, writer: '' });
    }
    expect(failures).toEqual([]);
    for (const object of mine) {
      await expect
        .poll(() => holds(victim(), object.taskId), { timeout: 30_000, interval: 200 })
        .toBe(true);
    }
  });
});
