// Fault injection, the long version of test/integration/fault-*.test.ts: for each fault, several
// rounds of mixed writes through real daemons while the fault lasts `faultSeconds`, then the
// recovery is timed and every acknowledged write checked (in S3 and read back through daemons).
// Faults: S3 500s (half the requests), S3 connection resets (half, mid-request or
// mid-response), S3 stalls (every request held until the window ends), a seed peer SIGKILLed
// and restarted (same ports, data dir), a 64 MiB cache tmpfs that fills up.
// Goal: lost = 0 everywhere, every client error a clear status + code, recovery with no restart.
// Usage: npm run bench -- faults [rounds=3] [faultSeconds=10] [only=<fault name substring>]
// (with `only`, the other faults' rows in bench/results/faults.json are kept).

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendConfigInput } from '../lib/config/backend-config.ts';
import type { Cluster } from '../test/helpers/cluster.ts';
import { startFaultProxy } from '../test/helpers/fault-proxy.ts';
import type { PeerDaemon } from '../test/helpers/peer-daemon.ts';
import { startBenchS3 } from './lib/bench-s3.ts';
import {
  type BenchEnv,
  directBackend,
  diskFullRound,
  type RoundResult,
  s3FaultRound,
  seedPeerRound,
  startDiskFullPeer,
  startFaultCluster,
  startFaultPeer,
} from './lib/fault-scenarios.ts';
import { closeFaultClients, formatErrors, mergeTallies, newTally } from './lib/fault-workload.ts';
import { printTable, type Row, writeResults } from './lib/report.ts';

const rounds = Number(process.argv[2] ?? 3);
const faultMs = Number(process.argv[3] ?? 10) * 1000;
const only = process.argv[4] ?? '';
if (!(rounds >= 1) || !(faultMs >= 1000)) {
  console.error('usage: npm run bench -- faults [rounds=3] [faultSeconds=10] [only]');
  process.exit(2);
}

const stops: (() => Promise<unknown>)[] = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await closeFaultClients().catch(() => {});
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanup().then(() => process.exit(130)));
}

interface Fault {
  readonly name: string;
  /** Starts what the fault's rounds share; returns the round runner. */
  setup(env: BenchEnv): Promise<(round: number, bucket: string) => Promise<RoundResult>>;
}

const s3Fault = (name: string, rules: Parameters<typeof s3FaultRound>[3]): Fault => ({
  name,
  async setup(env) {
    const daemon: PeerDaemon = await startFaultPeer(env, `bench-${name.replace(/\W+/g, '-')}`);
    return (_round, bucket) => s3FaultRound(env, daemon, bucket, rules, faultMs);
  },
});

const faults: Fault[] = [
  s3Fault('S3 500s (50 %)', [{ action: { kind: 'error', status: 500 }, probability: 0.5 }]),
  s3Fault('S3 resets (50 %)', [
    { action: { kind: 'reset', phase: 'request', afterBytes: 1024 }, probability: 0.25 },
    { action: { kind: 'reset', phase: 'response', afterBytes: 1024 }, probability: 1 / 3 },
  ]),
  s3Fault('S3 stalls (all)', [{ action: { kind: 'stall', phase: 'request' } }]),
  {
    name: 'seed peer kill -9 + restart',
    async setup(env) {
      const cluster: Cluster = await startFaultCluster(env);
      return (round, bucket) => seedPeerRound(env, cluster, bucket, round, faultMs);
    },
  },
  {
    name: 'cache disk full (64 MiB tmpfs)',
    async setup(env) {
      const daemon = await startDiskFullPeer(env);
      return (round, bucket) => diskFullRound(env, daemon, bucket, round, faultMs);
    },
  },
];

/** With `only`, the other faults' rows of the last full run stay in bench/results/faults.json. */
function mergedWithPrevious(rows: Row[]): Row[] {
  const file = join(dirname(fileURLToPath(import.meta.url)), 'results', 'faults.json');
  let previous: Row[] = [];
  try {
    previous = (JSON.parse(readFileSync(file, 'utf8')) as { rows: Row[] }).rows;
  } catch {}
  const fresh = new Map(rows.map((row) => [row.fault, row]));
  const merged = previous.map((row) => fresh.get(row.fault) ?? row);
  for (const row of rows) if (!previous.some((p) => p.fault === row.fault)) merged.push(row);
  return merged;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}

try {
  const s3 = (await startBenchS3(stops)) as BackendConfigInput & Record<string, unknown>;
  const rgw = new URL(String(s3.endpoint));
  const proxy = await startFaultProxy(rgw.hostname, Number(rgw.port));
  stops.push(() => proxy.close());
  const env: BenchEnv = { s3, proxy, direct: await directBackend(s3), stops };
  const rows: Row[] = [];
  for (const fault of faults.filter((f) => f.name.includes(only))) {
    const bucket = `faults-${randomBytes(4).toString('hex')}`;
    await env.direct.createBucket(bucket);
    const runRound = await fault.setup(env);
    const total = newTally();
    const recoveries: number[] = [];
    let lost = 0;
    for (let round = 0; round < rounds; round++) {
      const result = await runRound(round, bucket);
      mergeTallies(total, result.tally);
      recoveries.push(result.recoveryMs);
      lost += result.lost;
      console.error(
        `[faults] ${fault.name} round ${round + 1}: ${result.tally.acked.length} acked, ` +
          `${result.lost} lost, recovery ${result.recoveryMs} ms, errors: ${formatErrors(result.tally.errors)}`,
      );
    }
    rows.push({
      fault: fault.name,
      rounds,
      'fault window (s)': faultMs / 1000,
      'acked writes': total.acked.length,
      lost,
      'client errors seen': formatErrors(total.errors),
      'slowest client request (ms)': total.maxWaitMs,
      'recovery after the fault, median / max (ms)': `${median(recoveries)} / ${Math.max(...recoveries)}`,
    });
  }
  printTable(rows);
  writeResults('faults', only ? mergedWithPrevious(rows) : rows, { rounds, faultMs });
  await cleanup();
  process.exit(rows.some((row) => row.lost !== 0) ? 1 : 0);
} catch (error) {
  console.error(error);
  await cleanup();
  process.exit(1);
}
