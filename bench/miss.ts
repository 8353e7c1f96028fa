// A cold GET through a peer daemon (the object only in the backend, Ceph RGW) vs the same GET
// straight from RGW (presigned), curl as the client of both. Each run writes a fresh key into RGW
// and GETs it both ways, alternating which goes first. Overhead = peer time ÷ direct time − 1,
// the median over the runs. Goal: ≤ 5 %.
// Usage: npm run bench -- miss [--size MiB=1024] [--runs 4] [--cpu-prof] [--keep]
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDfstoreClient } from '../lib/client/dfstore-client.ts';
import { startBenchRgw } from './lib/bench-rgw.ts';
import {
  benchSession,
  cpuProfArgs,
  localDaemonConfig,
  median,
  metOrMissed,
} from './lib/bench-session.ts';
import { curlGet, type TimedTransfer } from './lib/curl-get.ts';
import { cpuSeconds } from './lib/proc-cpu.ts';
import { GiB, MiB, printTable, type Row, writeResults } from './lib/report.ts';
import { sampleRss } from './lib/rss-sampler.ts';

const { values: flags } = parseArgs({
  options: {
    size: { type: 'string', default: '1024' },
    runs: { type: 'string', default: '4' },
    'cpu-prof': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const size = Math.round(Number(flags.size) * MiB);
const runs = Number(flags.runs);
if (!(size > 0) || !(runs >= 1)) {
  console.error('usage: npm run bench -- miss [--size MiB] [--runs N] [--cpu-prof] [--keep]');
  process.exit(2);
}
const GOAL_OVERHEAD = 0.05;
const BUCKET = 'bench-miss';

const session = benchSession('miss', { keep: flags.keep });
const rows: Row[] = [];
const runsOut: {
  key: string;
  peer: TimedTransfer;
  direct: TimedTransfer;
  peerFirst: boolean;
  daemonCpuSeconds: number;
}[] = [];
let peakRss = 0;

async function checked(url: string): Promise<TimedTransfer> {
  const got = await curlGet(url);
  if (got.bytes !== size) throw new Error(`GET ${url} returned ${got.bytes} of ${size} B`);
  return got;
}

await session.run(async () => {
  const rgw = await startBenchRgw(session.stops);
  const daemon = await session.startDaemon(
    'daemon',
    localDaemonConfig(rgw.backend, join(session.scratch, 'data'), (runs + 1) * size),
    cpuProfArgs(session, flags['cpu-prof']),
  );
  const client = createDfstoreClient({ endpoint: daemon.api });
  session.stops.push(() => client.destroy());
  await client.createBucket(BUCKET);
  const sampler = sampleRss(daemon.pid, 50);
  try {
    for (let run = 0; run < runs; run++) {
      const key = `miss/run-${run}-${Date.now()}.bin`;
      await rgw.putGenerated(BUCKET, key, size);
      const direct = await rgw.presignGet(BUCKET, key);
      const peerUrl = `${daemon.api}/buckets/${BUCKET}/objects/${key}`;
      const peerFirst = run % 2 === 1;
      sampler.mark();
      let peer: TimedTransfer;
      let straight: TimedTransfer;
      const cpuBefore = cpuSeconds(daemon.pid);
      if (peerFirst) {
        peer = await checked(peerUrl);
        straight = await checked(direct);
      } else {
        straight = await checked(direct);
        peer = await checked(peerUrl);
      }
      // The daemon idles during the direct GET: this is the cold GET's CPU.
      const daemonCpuSeconds = cpuSeconds(daemon.pid) - cpuBefore;
      const peak = sampler.peak();
      peakRss = Math.max(peakRss, peak.sampledRss, peak.hwmIsWindowPeak ? peak.hwm : 0);
      runsOut.push({ key, peer, direct: straight, peerFirst, daemonCpuSeconds });
      const overhead = peer.seconds / straight.seconds - 1;
      rows.push({
        run: run + 1,
        first: peerFirst ? 'peer' : 'direct',
        'direct (s)': straight.seconds.toFixed(2),
        'direct MB/s': (size / 1e6 / straight.seconds).toFixed(0),
        'through the peer (s)': peer.seconds.toFixed(2),
        'peer MB/s': (size / 1e6 / peer.seconds).toFixed(0),
        overhead: `${(overhead * 100).toFixed(1)} %`,
        'daemon CPU s per GiB': ((daemonCpuSeconds * GiB) / size).toFixed(2),
      });
      console.error(`run ${run + 1}: overhead ${(overhead * 100).toFixed(1)} %`);
    }
  } finally {
    sampler.stop();
  }
  await client.close();
  const status = await daemon.stop();
  if (status !== 'exit code 0') throw new Error(`the daemon stopped with ${status}`);
});

const overhead = median(runsOut.map((r) => r.peer.seconds / r.direct.seconds - 1));
const goals: Row[] = [
  {
    goal: 'cold GET through the peer ≤ 5 % slower than direct',
    value: `${(overhead * 100).toFixed(1)} % (median of ${runs})`,
    status: metOrMissed(overhead <= GOAL_OVERHEAD),
  },
];
console.log(
  `\nCeph RGW backend, ${size / MiB} MiB per run, fresh key per run, curl as client; ` +
    `daemon peak RSS ${(peakRss / 1e6).toFixed(0)} MB, load ${loadavg()[0]?.toFixed(1)}\n`,
);
printTable(rows);
console.log('');
printTable(goals);
writeResults('miss', rows, {
  goals,
  sizeBytes: size,
  runs: runsOut,
  medianOverhead: overhead,
  peakRssBytes: peakRss,
  loadAverage: { start: session.loadAtStart, end: loadavg() },
});
