// 4 KiB GET hits under load: autocannon (64 connections, 20 s by default) against a peer daemon
// that holds the object in its cache, then against the S3 server itself (Ceph RGW, a presigned
// URL of the same object), each after a short warm-up. Reports req/s, p50 and p99 latency.
// Goals: ≥ 10k req/s and p99 < 5 ms through the peer. autocannon runs in this process: on 2
// cores it competes with the server for CPU, for both rows alike.
// Usage: npm run bench -- small [--duration 20] [--connections 64] [--cpu-prof] [--keep]
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createDfstoreClient } from '../lib/client/dfstore-client.ts';
import { startBenchRgw } from './lib/bench-rgw.ts';
import { benchSession, cpuProfArgs, localDaemonConfig, metOrMissed } from './lib/bench-session.ts';
import { type LoadResult, load } from './lib/load.ts';
import { cpuSeconds } from './lib/proc-cpu.ts';
import { MiB, printTable, type Row, writeResults } from './lib/report.ts';
import { sampleRss } from './lib/rss-sampler.ts';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    connections: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '3' },
    'cpu-prof': { type: 'boolean', default: false },
    'peer-only': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const duration = Number(flags.duration);
const connections = Number(flags.connections);
const warmup = Number(flags.warmup);
if (!(duration > 0) || !(connections >= 1) || !(warmup >= 0)) {
  console.error('usage: npm run bench -- small [--duration s] [--connections n] [--cpu-prof]');
  process.exit(2);
}
const SIZE = 4096;
const BUCKET = 'bench-small';
const KEY = 'small/object-4k.bin';
const REQ_GOAL = 10_000;
const P99_GOAL_MS = 5;

const session = benchSession('small', { keep: flags.keep });
const results: Record<string, LoadResult> = {};
let peakRss = 0;
/** The daemon's CPU time per request during the measured run (µs). */
let cpuPerRequestUs = 0;

async function measure(name: string, url: string, pid?: number): Promise<LoadResult> {
  if (warmup > 0) await load({ url, connections, duration: warmup });
  const cpuBefore = pid === undefined ? 0 : cpuSeconds(pid);
  const result = await load({ url, connections, duration });
  if (pid !== undefined) {
    cpuPerRequestUs = ((cpuSeconds(pid) - cpuBefore) * 1e6) / result.requests.total;
  }
  console.error(
    `${name}: ${result.requests.average.toFixed(0)} req/s, p50 ${result.latency.p50} ms, ` +
      `p99 ${result.latency.p99} ms`,
  );
  results[name] = result;
  return result;
}

await session.run(async () => {
  const rgw = await startBenchRgw(session.stops);
  const daemon = await session.startDaemon(
    'daemon',
    localDaemonConfig(rgw.backend, join(session.scratch, 'data'), 64 * MiB),
    cpuProfArgs(session, flags['cpu-prof']),
  );
  const client = createDfstoreClient({ endpoint: daemon.api });
  session.stops.push(() => client.destroy());
  await client.createBucket(BUCKET);
  const body = Buffer.alloc(SIZE, 'dfstore small object ');
  await client.putObject(BUCKET, KEY, Readable.from([body]), { mode: 1, contentLength: SIZE });
  await client.close();

  const sampler = sampleRss(daemon.pid, 100);
  sampler.mark();
  try {
    await measure('peer', `${daemon.api}/buckets/${BUCKET}/objects/${KEY}`, daemon.pid);
    const peak = sampler.peak();
    peakRss = Math.max(peak.sampledRss, peak.hwmIsWindowPeak ? peak.hwm : 0);
  } finally {
    sampler.stop();
  }
  if (!flags['peer-only']) await measure('rgw', await rgw.presignGet(BUCKET, KEY));
  const status = await daemon.stop();
  if (status !== 'exit code 0') throw new Error(`the daemon stopped with ${status}`);
});

const rows: Row[] = Object.entries(results).map(([name, r]) => ({
  target: name === 'peer' ? 'peer daemon (cache hit)' : 'Ceph RGW directly (presigned)',
  'req/s': r.requests.average.toFixed(0),
  'p50 (ms)': r.latency.p50,
  'p99 (ms)': r.latency.p99,
  'max (ms)': r.latency.max,
  requests: r.requests.total,
  'server CPU per request (µs)': name === 'peer' ? cpuPerRequestUs.toFixed(0) : '',
}));
const peer = results.peer;
const goals: Row[] = peer
  ? [
      {
        goal: '≥ 10k req/s',
        value: peer.requests.average.toFixed(0),
        status: metOrMissed(peer.requests.average >= REQ_GOAL),
      },
      {
        goal: 'p99 < 5 ms',
        value: `${peer.latency.p99} ms`,
        status: metOrMissed(peer.latency.p99 < P99_GOAL_MS),
      },
    ]
  : [];
console.log(
  `\n4 KiB object, ${connections} connections, ${duration} s (after ${warmup} s warm-up), ` +
    `autocannon in the bench process; daemon peak RSS ${(peakRss / 1e6).toFixed(0)} MB, ` +
    `load ${loadavg()[0]?.toFixed(1)}\n`,
);
printTable(rows);
console.log('');
printTable(goals);
writeResults('small', rows, {
  goals,
  connections,
  durationSeconds: duration,
  warmupSeconds: warmup,
  peakRssBytes: peakRss,
  daemonCpuMicrosPerRequest: cpuPerRequestUs,
  results,
  loadAverage: { start: session.loadAtStart, end: loadavg() },
});
