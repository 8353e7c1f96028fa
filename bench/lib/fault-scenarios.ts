import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createBackend } from '../../lib/backends/create-backend.ts';
import type { ObjectBackend } from '../../lib/backends/object-backend.ts';
import type { BackendConfigInput } from '../../lib/config/backend-config.ts';
import { rankSeedPeers } from '../../lib/peer/placement.ts';
import { type Cluster, startCluster } from '../../test/helpers/cluster.ts';
import { holds, metricValue, taskIdOf } from '../../test/helpers/cluster-probes.ts';
import type { FaultProxy, FaultRule } from '../../test/helpers/fault-proxy.ts';
import { type PeerDaemon, startPeerDaemon } from '../../test/helpers/peer-daemon.ts';
import {
  clientFor,
  countLost,
  errorLabel,
  newTally,
  putTallied,
  randomObject,
  type Tally,
  timeUntil,
  writeUntil,
} from './fault-workload.ts';

/** The rounds of each fault of bench/faults.ts: set up, inject, write through, recover, check. */

export interface RoundResult {
  readonly tally: Tally;
  readonly lost: number;
  /** From the end of the fault to the system working again (see each scenario). */
  readonly recoveryMs: number;
}

export interface BenchEnv {
  readonly s3: BackendConfigInput & Record<string, unknown>;
  readonly proxy: FaultProxy;
  readonly direct: ObjectBackend;
  readonly stops: (() => Promise<unknown>)[];
}

const WRITE_BACK = { writeBack: { retryBase: '200ms', retryCap: '2s' } };
const RECOVERY_TIMEOUT_MS = 180_000;
const MiB = 1024 * 1024;

async function pending(api: Pick<PeerDaemon, 'api' | 'pieces' | 'metrics'>): Promise<number> {
  return metricValue(api, 'dfstore_journal_pending');
}

/** A single peer daemon whose S3 goes through the fault proxy. */
export async function startFaultPeer(env: BenchEnv, name: string, extra = {}): Promise<PeerDaemon> {
  const daemon = await startPeerDaemon({
    name,
    // A 5 s idle timeout (default 60 s) so that a stall fails requests within the window.
    backend: { ...env.s3, endpoint: env.proxy.url, requestTimeoutMs: 5_000 } as BackendConfigInput,
    extraConfig: { logLevel: 'info', objectStorage: WRITE_BACK, ...extra },
  });
  env.stops.push(() => daemon.dispose());
  return daemon;
}

/**
 * S3 faults (500s, resets, stalls) for `faultMs` under mixed traffic (3 mode-0 writers, 1
 * mode-1 writer, a cold GET every 0.5 s). Recovery: the journal drained and a cold GET served, after the fault.
 */
export async function s3FaultRound(
  env: BenchEnv,
  daemon: PeerDaemon,
  bucket: string,
  rules: readonly FaultRule[],
  faultMs: number,
): Promise<RoundResult> {
  const tally = newTally();
  const cold = randomObject('cold', 256 * 1024);
  await env.direct.putObject(bucket, cold.key, Readable.from([cold.data]), {
    contentLength: cold.size,
    digest: cold.digest,
  });
  for (const rule of rules) env.proxy.inject(rule);
  const faultEnds = Date.now() + faultMs;
  const clearing = new Promise<void>((resolve) =>
    setTimeout(() => resolve(env.proxy.clear()), faultMs),
  );
  const coldReads = (async () => {
    while (Date.now() < faultEnds) {
      const started = Date.now();
      try {
        const got = await clientFor(daemon.api).getObject(bucket, cold.key);
        for await (const _ of got.body as AsyncIterable<Buffer>);
      } catch (error) {
        const label = `GET ${errorLabel(error)}`;
        tally.errors.set(label, (tally.errors.get(label) ?? 0) + 1);
      }
      tally.maxWaitMs = Math.max(tally.maxWaitMs, Date.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })();
  await Promise.all([
    // Separate writers per mode: mode-1 PUTs waiting on S3 must not starve the mode-0 ones.
    writeUntil({
      bucket,
      prefix: 'w0',
      until: () => Date.now() >= faultEnds,
      apiOf: () => daemon.api,
      concurrency: 3,
      tally,
    }),
    writeUntil({
      bucket,
      prefix: 'w1',
      until: () => Date.now() >= faultEnds,
      apiOf: () => daemon.api,
      modeOf: () => 1,
      concurrency: 1,
      tally,
    }),
    coldReads,
    clearing,
  ]);
  await timeUntil('journal drained, cold GET served', RECOVERY_TIMEOUT_MS, async () => {
    if ((await pending(daemon)) !== 0) return false;
    const got = await clientFor(daemon.api).getObject(bucket, cold.key);
    for await (const _ of got.body as AsyncIterable<Buffer>);
    return true;
  });
  const recoveryMs = Date.now() - faultEnds;
  const lost = await countLost(env.direct, bucket, tally.acked, [daemon.api]);
  return { tally, lost, recoveryMs };
}

/** A cluster of 1 manager, 3 seed peers, 2 peers, S3 through the fault proxy. */
export async function startFaultCluster(env: BenchEnv): Promise<Cluster> {
  const cluster = await startCluster({
    name: 'bench-faults',
    backend: { ...env.s3, endpoint: env.proxy.url } as BackendConfigInput,
    seedPeers: 3,
    peers: 2,
    maxReplicas: 2,
    logLevel: 'info',
    nodeConfig: () => ({ objectStorage: WRITE_BACK }),
  });
  env.stops.push(() => cluster.dispose());
  return cluster;
}

/**
 * A seed peer SIGKILLed 1 s into the window while both peers write mode 0 (and it acks writes
 * of its own that S3 refuses until then), restarted at the end of the window. Recovery: the
 * restarted seed peer holds a new replica and every journal drained.
 */
export async function seedPeerRound(
  env: BenchEnv,
  cluster: Cluster,
  bucket: string,
  round: number,
  faultMs: number,
): Promise<RoundResult> {
  const tally = newTally();
  const victim = cluster.seedPeers[round % cluster.seedPeers.length];
  const [p0, p1] = cluster.peers;
  if (!victim || !p0 || !p1) throw new Error('cluster shape');
  env.proxy.inject({ action: { kind: 'error' }, method: 'PUT', path: /\/own-/ });
  for (let i = 0; i < 4; i++) {
    await putTallied(victim.api, bucket, randomObject(`own-${round}`, 256 * 1024), 0, tally);
  }
  const faultEnds = Date.now() + faultMs;
  const killing = new Promise<void>((resolve) => setTimeout(resolve, 1000)).then(async () => {
    await victim.kill();
    env.proxy.clear();
  });
  await Promise.all([
    writeUntil({
      bucket,
      prefix: `r${round}`,
      until: () => Date.now() >= faultEnds,
      apiOf: (n) => (n % 2 ? p1.api : p0.api),
      tally,
    }),
    killing,
  ]);
  const restartedAt = Date.now();
  await victim.restart();
  await timeUntil('a new replica on the restarted seed peer', RECOVERY_TIMEOUT_MS, async () => {
    for (;;) {
      const object = randomObject(`probe-${round}`, 64 * 1024);
      const taskId = taskIdOf(bucket, object.key, object, { filter: cluster.filter });
      const owners = rankSeedPeers(taskId, cluster.seedPeers).slice(0, 2);
      if (!owners.some((o) => o.id === victim.id)) continue;
      if (!(await putTallied(p0.api, bucket, object, 0, tally))) return false;
      await timeUntil('replica', 30_000, () => holds(victim, taskId));
      const queues = await Promise.all(cluster.nodes().map(pending));
      return queues.every((n) => n === 0);
    }
  });
  const recoveryMs = Date.now() - restartedAt;
  const lost = await countLost(env.direct, bucket, tally.acked, [victim.api, p1.api]);
  return { tally, lost, recoveryMs };
}

/** A peer on a 64 MiB tmpfs (its own mount namespace); see test/integration/fault-disk-full. */
export async function startDiskFullPeer(env: BenchEnv): Promise<PeerDaemon> {
  const dataDir = await mkdtemp(join(tmpdir(), 'dfstore-bench-full-'));
  env.stops.push(() => rm(dataDir, { recursive: true, force: true }));
  const mount = 'mount -t tmpfs -o size=64m tmpfs "$1" && shift && exec "$@"';
  const daemon = await startPeerDaemon({
    name: 'bench-disk-full',
    dataDir,
    backend: { ...env.s3, endpoint: env.proxy.url } as BackendConfigInput,
    extraConfig: { logLevel: 'info', objectStorage: WRITE_BACK },
    launcher: (argv) => [
      ...['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', mount, 'sh'],
      dataDir,
      ...argv,
    ],
  });
  env.stops.push(() => daemon.dispose());
  return daemon;
}

/**
 * S3 refuses write-backs for the window while 4 MiB mode-0 PUTs fill the disk with pinned
 * objects (507s once full). Recovery: after S3 is back, a 4 MiB PUT is acked again.
 */
export async function diskFullRound(
  env: BenchEnv,
  daemon: PeerDaemon,
  bucket: string,
  round: number,
  faultMs: number,
): Promise<RoundResult> {
  const tally = newTally();
  env.proxy.inject({ action: { kind: 'error' }, method: 'PUT' });
  const faultEnds = Date.now() + faultMs;
  await writeUntil({
    bucket,
    prefix: `full-${round}`,
    until: () => Date.now() >= faultEnds,
    apiOf: () => daemon.api,
    concurrency: 2,
    maxSize: 4 * MiB + 1000,
    fixedSize: true,
    tally,
  });
  env.proxy.clear();
  const clearedAt = Date.now();
  await timeUntil('a 4 MiB PUT acked again', RECOVERY_TIMEOUT_MS, () =>
    putTallied(daemon.api, bucket, randomObject(`after-${round}`, 4 * MiB), 0, newTally()),
  );
  const recoveryMs = Date.now() - clearedAt;
  await timeUntil(
    'journal drained',
    RECOVERY_TIMEOUT_MS,
    async () => (await pending(daemon)) === 0,
  );
  const lost = await countLost(env.direct, bucket, tally.acked, [daemon.api]);
  return { tally, lost, recoveryMs };
}

export async function directBackend(s3: BackendConfigInput): Promise<ObjectBackend> {
  return createBackend(s3);
}
