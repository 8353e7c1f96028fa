import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../../lib/api/create-app.ts';
import { createFsBackend } from '../../lib/backends/fs-backend.ts';
import { openPeerNode, type PeerNode } from '../../lib/peer/peer-node.ts';
import { ownersOf, rankSeedPeers } from '../../lib/peer/placement.ts';
import {
  createDfstorePutReplica,
  createReplicator,
  type ReplicatorDeps,
  type SeedPeer,
} from '../../lib/peer/replicator.ts';
import { taskIdForDigest } from '../../lib/peer/task-ids.ts';
import type { Logger } from '../../lib/storage/deps.ts';
import { openPieceStore, type PieceStore } from '../../lib/storage/piece-store.ts';
import { patternStream } from '../helpers/streams.ts';

const BUCKET = 'replicas';
/** Over one 4 MiB piece, so replicas span several pieces. */
const SIZE = 5 * 1024 * 1024 + 3;

interface RunningSeedPeer extends SeedPeer {
  readonly node: PeerNode;
  /** Closes its HTTP server (the seed peer is down); its storage stays open for inspection. */
  stop(): Promise<void>;
}

interface LogLine {
  readonly level: keyof Logger;
  readonly obj: object;
  readonly msg?: string;
}

let work: string;
let writer: PieceStore;
/** Seed peers started by the current test; stopped and closed after it. */
let running: RunningSeedPeer[] = [];
const putReplica = createDfstorePutReplica();

/** A seed peer: the dfstore API app over a peer node with an fs backend, on 127.0.0.1. */
async function startSeedPeer(id: string): Promise<RunningSeedPeer> {
  const dir = join(work, id);
  const node = await openPeerNode({
    dataDir: join(dir, 'data'),
    backend: createFsBackend({ name: 'fs', root: join(dir, 'backend') }),
    filter: '',
    maxReplicas: 3,
  });
  const server = serve({
    fetch: createApiApp({ service: node.service }).fetch,
    port: 0,
    hostname: '127.0.0.1',
  });
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  let stopped = false;
  const seedPeer: RunningSeedPeer = {
    id,
    objectApi: `http://127.0.0.1:${port}`,
    node,
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  running.push(seedPeer);
  return seedPeer;
}

const startSeedPeers = (n: number, prefix: string) =>
  Promise.all(Array.from({ length: n }, (_, i) => startSeedPeer(`${prefix}-${i}`)));

/** Writes SIZE pattern bytes into the writer's store as `key`'s task, as a mode-0/1 PUT does. */
async function cacheObject(key: string, seed: number) {
  const md5 = createHash('md5');
  for await (const chunk of patternStream(SIZE, seed)) md5.update(chunk as Buffer);
  const digest = `md5:${md5.digest('hex')}`;
  const importer = await writer.beginImport({ sizeHint: SIZE, bucket: BUCKET, key });
  await importer.write(patternStream(SIZE, seed));
  const { meta } = await importer.commit(() => taskIdForDigest('fs', BUCKET, key, digest, ''));
  return {
    taskId: meta.taskId,
    digest,
    request: { taskId: meta.taskId, bucket: BUCKET, key, filter: '', contentLength: SIZE },
  };
}

function replicator(seedPeers: readonly SeedPeer[], extra: Partial<ReplicatorDeps> = {}) {
  const logs: LogLine[] = [];
  const log = (level: keyof Logger) => (obj: object, msg?: string) =>
    logs.push({ level, obj, msg });
  let opens = 0;
  const instance = createReplicator({
    seedPeers: () => seedPeers,
    openBody: (taskId) => {
      opens++;
      return writer.createReadStream(taskId);
    },
    putReplica: putReplica.putReplica,
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    ...extra,
  });
  return { instance, logs, opens: () => opens };
}

/** IDs of the seed peers whose cache holds `key` as `taskId`, complete, with the right digest. */
function holders(
  seedPeers: readonly RunningSeedPeer[],
  key: string,
  taskId: string,
  digest: string,
) {
  return seedPeers
    .filter((seedPeer) => {
      const entry = seedPeer.node.index.get(BUCKET, key);
      const meta = seedPeer.node.store.stat(taskId);
      return entry?.taskId === taskId && meta?.complete === true && meta.digest === digest;
    })
    .map((seedPeer) => seedPeer.id)
    .sort();
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'dfstore-replicator-'));
  writer = await openPieceStore({ dataDir: join(work, 'writer') });
});
afterEach(async () => {
  for (const seedPeer of running) {
    await seedPeer.stop();
    await seedPeer.node.close();
  }
  running = [];
});
afterAll(async () => {
  await putReplica.close();
  await writer?.close();
  await rm(work, { recursive: true, force: true });
});

describe('replicator over real seed peers on 127.0.0.1', () => {
  it('puts the object on exactly its first maxReplicas owners, in rank order', async () => {
    const seedPeers = await startSeedPeers(5, 'a');
    const { taskId, digest, request } = await cacheObject('dir/two.bin', 1);
    const { instance, logs, opens } = replicator(seedPeers);

    const result = await instance.replicate({ ...request, maxReplicas: 2 });

    const expected = ownersOf(taskId, seedPeers, 2).map((seedPeer) => seedPeer.id);
    expect(result).toEqual({ reached: 2, target: 2, owners: expected });
    expect(holders(seedPeers, 'dir/two.bin', taskId, digest)).toEqual([...expected].sort());
    expect(opens()).toBe(2);
    expect(logs.find((line) => line.level === 'info')?.msg).toBe(
      'replication reached 2 of 2 seed peers',
    );
  });

  it('replaces an owner that is down by the next seed peer in rank', async () => {
    const seedPeers = await startSeedPeers(4, 'b');
    const { taskId, digest, request } = await cacheObject('down.bin', 2);
    const ranked = rankSeedPeers(taskId, seedPeers);
    await ranked[0]?.stop();
    const { instance, logs } = replicator(seedPeers);

    const result = await instance.replicate({ ...request, maxReplicas: 2 });

    const expected = [ranked[1]?.id, ranked[2]?.id];
    expect(result).toEqual({ reached: 2, target: 2, owners: expected });
    expect(holders(seedPeers, 'down.bin', taskId, digest)).toEqual([...expected].sort());
    const failure = logs.find((line) => line.level === 'warn');
    expect(failure?.obj).toMatchObject({ seedPeerId: ranked[0]?.id, rank: 0 });
  });

  it('reaches 0 and says so clearly when every seed peer is down', async () => {
    const seedPeers = await startSeedPeers(3, 'c');
    const { taskId, digest, request } = await cacheObject('nowhere.bin', 3);
    for (const seedPeer of seedPeers) await seedPeer.stop();
    const observed: number[] = [];
    const { instance, logs, opens } = replicator(seedPeers, {
      metrics: { replicasReached: { observe: (n) => observed.push(n) } },
    });

    const result = await instance.replicate({ ...request, maxReplicas: 2 });

    expect(result).toEqual({ reached: 0, target: 2, owners: [] });
    expect(holders(seedPeers, 'nowhere.bin', taskId, digest)).toEqual([]);
    expect(opens()).toBe(3);
    expect(logs.filter((line) => line.level === 'warn')).toHaveLength(3);
    const final = logs.find((line) => line.level === 'error');
    expect(final?.msg).toBe('replication reached no seed peer (0 of 2)');
    expect(final?.obj).toMatchObject({ taskId, reached: 0, target: 2, live: 3 });
    expect(observed).toEqual([0]);
  });

  it('caps the target at the live seed peers when maxReplicas exceeds them', async () => {
    const seedPeers = await startSeedPeers(3, 'd');
    const { taskId, digest, request } = await cacheObject('all.bin', 4);
    const counted: number[] = [];
    const { instance } = replicator(seedPeers, {
      metrics: { replicasReached: { inc: (n) => counted.push(n ?? 1) } },
    });

    const result = await instance.replicate({ ...request, maxReplicas: 10 });

    expect(result.reached).toBe(3);
    expect(result.target).toBe(3);
    expect(holders(seedPeers, 'all.bin', taskId, digest)).toEqual(
      seedPeers.map((s) => s.id).sort(),
    );
    expect(counted).toEqual([3]);
  });

  it('never replicates to itself and keeps at most `concurrency` uploads at once', async () => {
    const seedPeers = await startSeedPeers(4, 'e');
    const { taskId, digest, request } = await cacheObject('self.bin', 5);
    const self = rankSeedPeers(taskId, seedPeers)[0]?.id;
    let active = 0;
    let peak = 0;
    const { instance } = replicator(seedPeers, {
      selfId: self,
      concurrency: 1,
      putReplica: async (...args) => {
        peak = Math.max(peak, ++active);
        try {
          await putReplica.putReplica(...args);
        } finally {
          active--;
        }
      },
    });

    const result = await instance.replicate({ ...request, maxReplicas: 3 });

    expect(result.reached).toBe(3);
    expect(result.owners).not.toContain(self);
    expect(peak).toBe(1);
    expect(holders(seedPeers, 'self.bin', taskId, digest)).not.toContain(self);
  });

  it('rejects when the cached object cannot be read, trying no further seed peer', async () => {
    const seedPeers = await startSeedPeers(2, 'f');
    const { instance, logs } = replicator(seedPeers, {
      openBody: async () => {
        throw new Error('task evicted');
      },
    });

    await expect(
      instance.replicate({
        taskId: 'f'.repeat(64),
        bucket: BUCKET,
        key: 'gone.bin',
        filter: '',
        contentLength: 1,
        maxReplicas: 2,
      }),
    ).rejects.toThrow('task evicted');
    expect(logs.find((line) => line.level === 'error')?.msg).toBe(
      'replication stopped: the cached object could not be read',
    );
  });

  it('does nothing for maxReplicas 0 or no seed peers', async () => {
    const { instance } = replicator([]);
    const request = {
      taskId: 'a'.repeat(64),
      bucket: BUCKET,
      key: 'x',
      filter: '',
      contentLength: 1,
    };
    expect(await instance.replicate({ ...request, maxReplicas: 3 })).toEqual({
      reached: 0,
      target: 0,
      owners: [],
    });
    const one = replicator([{ id: 'z', objectApi: 'http://127.0.0.1:9' }]);
    expect(await one.instance.replicate({ ...request, maxReplicas: 0 })).toEqual({
      reached: 0,
      target: 0,
      owners: [],
    });
    expect(one.opens()).toBe(0);
  });
});
