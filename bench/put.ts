// PUT through a peer daemon in mode 0 (AsyncWriteBack: ack once journaled) and mode 1 (WriteBack:
// ack once the backend has it), with the backend (Ceph RGW) behind a proxy that holds every
// request 0 ms, then 50 ms. For each (mode, delay): --count sequential PUTs of --small KiB (ack
// latency = the client's PUT time, p50/p90), and, after all of those, one --size MiB PUT
// (throughput). Mode-0 write-backs drain after each part (the large PUT's drain is timed).
// Goal: the mode-0 ack latency does not depend on the backend's latency: its p50 with 50 ms
// added is within 10 ms (a fifth of the delay) of the one with 0 ms. --rounds repeats every
// part, alternating which delay goes first.
// Usage: npm run bench -- put [--count 40] [--small KiB=1024] [--size MiB=256] [--delay 50] [--rounds 2]
//        [--cpu-prof] [--keep]
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createDfstoreClient, type DfstoreClient } from '../lib/client/dfstore-client.ts';
import type { WriteMode } from '../lib/core/write-mode.ts';
import { startBenchRgw } from './lib/bench-rgw.ts';
import {
  benchSession,
  cpuProfArgs,
  localDaemonConfig,
  median,
  metOrMissed,
  waitForWriteBacks,
} from './lib/bench-session.ts';
import type { BundledDaemon } from './lib/bundled-daemon.ts';
import { type DelayProxy, startDelayProxy } from './lib/delay-proxy.ts';
import { generatedObject } from './lib/generated-object.ts';
import { MiB, printTable, type Row, writeResults } from './lib/report.ts';

const { values: flags } = parseArgs({
  options: {
    count: { type: 'string', default: '40' },
    small: { type: 'string', default: '1024' },
    size: { type: 'string', default: '256' },
    delay: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '2' },
    'cpu-prof': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const count = Number(flags.count);
const smallSize = Math.round(Number(flags.small) * 1024);
const size = Math.round(Number(flags.size) * MiB);
const delay = Number(flags.delay);
const rounds = Number(flags.rounds);
if (!(rounds >= 1) || !(count >= 2) || !(smallSize > 0) || !(size > 0) || !(delay > 0)) {
  console.error('usage: npm run bench -- put [--count n] [--small KiB] [--size MiB] [--delay ms]');
  process.exit(2);
}
const BUCKET = 'bench-put';
const GOAL_DIFF_MS = delay / 5;

const session = benchSession('put', { keep: flags.keep });
const rows: Row[] = [];
interface Phase {
  mode: WriteMode;
  delayMs: number;
  latenciesMs: number[];
  p50: number;
  p90: number;
  /** The large PUT's time; undefined in a latency part. */
  largeSeconds?: number;
  drainSeconds?: number;
  backendRequests: number;
}
const phases: Phase[] = [];

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
};

/**
 * One part of a phase: the small PUTs (`latency`) or the large one (`large`). Mode-0 write-backs
 * drain at the end of either, so no part starts with another's backend work in flight.
 */
async function phase(
  daemon: BundledDaemon,
  client: DfstoreClient,
  proxy: DelayProxy,
  part: 'latency' | 'large',
  mode: WriteMode,
  delayMs: number,
): Promise<void> {
  proxy.delayMs = delayMs;
  const requestsBefore = proxy.requests;
  const latenciesMs: number[] = [];
  let largeSeconds: number | undefined;
  if (part === 'latency') {
    const body = Buffer.alloc(smallSize, `mode ${mode} delay ${delayMs} `);
    for (let i = 0; i < count; i++) {
      const key = `put/m${mode}-d${delayMs}/small-${phases.length}-${i}.bin`;
      const started = performance.now();
      await client.putObject(BUCKET, key, Readable.from([body]), {
        mode,
        contentLength: smallSize,
      });
      latenciesMs.push(performance.now() - started);
    }
  } else {
    const object = generatedObject(size);
    const started = performance.now();
    await client.putObject(
      BUCKET,
      `put/m${mode}-d${delayMs}/large-${phases.length}.bin`,
      object.stream,
      {
        mode,
        contentLength: size,
      },
    );
    largeSeconds = (performance.now() - started) / 1000;
  }
  let drainSeconds: number | undefined;
  if (mode === 0) {
    const drainStarted = performance.now();
    await waitForWriteBacks(daemon);
    drainSeconds = (performance.now() - drainStarted) / 1000;
  }
  const result: Phase = {
    mode,
    delayMs,
    latenciesMs,
    p50: median(latenciesMs),
    p90: percentile(latenciesMs, 90),
    largeSeconds,
    drainSeconds,
    backendRequests: proxy.requests - requestsBefore,
  };
  phases.push(result);
  console.error(
    part === 'latency'
      ? `mode ${mode}, +${delayMs} ms: ${count} PUTs, p50 ${result.p50.toFixed(1)} ms`
      : `mode ${mode}, +${delayMs} ms: ${size / MiB} MiB PUT at ${(size / 1e6 / (largeSeconds ?? 1)).toFixed(0)} MB/s`,
  );
}

await session.run(async () => {
  const rgw = await startBenchRgw(session.stops);
  const target = new URL(rgw.endpoint);
  const proxy = await startDelayProxy(target.hostname, Number(target.port));
  session.stops.push(() => proxy.close());
  const daemon = await session.startDaemon(
    'daemon',
    localDaemonConfig(
      { ...rgw.backend, endpoint: proxy.url },
      join(session.scratch, 'data'),
      // Room for every object of every phase: eviction never runs during a phase.
      2 * rounds * 4 * (size + count * smallSize),
    ),
    cpuProfArgs(session, flags['cpu-prof']),
  );
  const client = createDfstoreClient({ endpoint: daemon.api });
  session.stops.push(() => client.destroy());
  await client.createBucket(BUCKET);
  // Warm-up: the first PUTs pay for lazy setup in the daemon and the client.
  for (let i = 0; i < 3; i++) {
    await client.putObject(BUCKET, `put/warm-${i}`, Readable.from([Buffer.alloc(1024)]), {
      mode: 1,
      contentLength: 1024,
    });
  }
  // The latency parts first, then the large PUTs: a large write's aftermath (dirty pages, the
  // S3 server's background work) must not land in a latency part. Rounds alternate the order
  // of the delays, so that drifting load hits both alike.
  for (const part of ['latency', 'large'] as const) {
    for (let round = 0; round < rounds; round++) {
      for (const delayMs of round % 2 === 0 ? [0, delay] : [delay, 0]) {
        for (const mode of [0, 1] as WriteMode[]) {
          await phase(daemon, client, proxy, part, mode, delayMs);
        }
      }
    }
  }
  await client.close();
  const status = await daemon.stop();
  if (status !== 'exit code 0') throw new Error(`the daemon stopped with ${status}`);
});

/** Every round of one (mode, delay): latencies pooled, the large PUT's time the median. */
function pooled(mode: number, delayMs: number) {
  const runs = phases.filter((p) => p.mode === mode && p.delayMs === delayMs);
  const latencies = runs.flatMap((p) => p.latenciesMs);
  const large = runs.filter((p) => p.largeSeconds !== undefined);
  const drains = large.flatMap((p) => (p.drainSeconds === undefined ? [] : [p.drainSeconds]));
  return {
    p50: median(latencies),
    p90: percentile(latencies, 90),
    largeSeconds: median(large.map((p) => p.largeSeconds ?? 0)),
    drainSeconds: drains.length > 0 ? median(drains) : undefined,
    backendRequests: runs.reduce((sum, p) => sum + p.backendRequests, 0) / rounds,
  };
}
const find = pooled;
for (const delayMs of [0, delay]) {
  for (const mode of [0, 1]) {
    const r = pooled(mode, delayMs);
    rows.push({
      mode: mode === 0 ? '0 (AsyncWriteBack)' : '1 (WriteBack)',
      'backend delay': `${delayMs} ms`,
      [`ack p50, ${smallSize / 1024} KiB (ms)`]: r.p50.toFixed(1),
      'ack p90 (ms)': r.p90.toFixed(1),
      [`${size / MiB} MiB PUT (s)`]: r.largeSeconds.toFixed(2),
      'MB/s': (size / 1e6 / r.largeSeconds).toFixed(0),
      'large PUT write-back drain after the ack (s)': r.drainSeconds?.toFixed(2) ?? '',
      'backend requests per phase': r.backendRequests.toFixed(0),
    });
  }
}
const diff = (mode: number) => (find(mode, delay)?.p50 ?? Number.NaN) - (find(mode, 0)?.p50 ?? 0);
const goals: Row[] = [
  {
    goal: `mode-0 ack p50 independent of backend latency (+${delay} ms → within ${GOAL_DIFF_MS} ms)`,
    value: `${find(0, 0)?.p50.toFixed(1)} → ${find(0, delay)?.p50.toFixed(1)} ms (${diff(0) >= 0 ? '+' : ''}${diff(0).toFixed(1)})`,
    status: metOrMissed(Math.abs(diff(0)) <= GOAL_DIFF_MS),
  },
  {
    goal: 'for contrast: mode 1 (waits for the backend)',
    value: `${find(1, 0)?.p50.toFixed(1)} → ${find(1, delay)?.p50.toFixed(1)} ms (+${diff(1).toFixed(1)})`,
    status: '–',
  },
];
console.log(
  `\nCeph RGW behind a delaying proxy, ${count} sequential ${smallSize / 1024} KiB PUTs, then one ` +
    `${size / MiB} MiB PUT per phase, ${rounds} rounds (latencies pooled, PUT time median); load ${loadavg()[0]?.toFixed(1)}\n`,
);
printTable(rows);
console.log('');
printTable(goals);
writeResults('put', rows, {
  goals,
  phases,
  count,
  smallSizeBytes: smallSize,
  sizeBytes: size,
  delayMs: delay,
  rounds,
  loadAverage: { start: session.loadAtStart, end: loadavg() },
});
