// A 1 GiB object cached in a local peer daemon (bundled, plain node): GET it from the peer, vs
// `cat` of the cached data file (the same bytes on disk, from the page cache), vs a presigned GET
// straight from the S3 server (Ceph RGW). curl is the client of both GETs. Reports MB/s (median
// of --runs) and the daemon's peak RSS over its GETs. Goals: ≥ 1.5 GiB/s, RSS < 150 MB.
// Usage: npm run bench -- hit [--size MiB=1024] [--backend s3|fs] [--runs 5] [--cpu-prof] [--keep]
//        [--peer-only: fs backend, no RGW and no direct row (quick iterations)]
import { readdirSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDfstoreClient } from '../lib/client/dfstore-client.ts';
import { metricValue } from '../test/helpers/prometheus-text.ts';
import { startBenchRgw } from './lib/bench-rgw.ts';
import {
  benchSession,
  cpuProfArgs,
  localDaemonConfig,
  median,
  metOrMissed,
} from './lib/bench-session.ts';
import { catFile, curlGet, type TimedTransfer } from './lib/curl-get.ts';
import { generatedObject } from './lib/generated-object.ts';
import { cpuSeconds } from './lib/proc-cpu.ts';
import { GiB, MiB, printTable, type Row, writeResults } from './lib/report.ts';
import { readProcMemory, sampleRss } from './lib/rss-sampler.ts';

const { values: flags } = parseArgs({
  options: {
    size: { type: 'string', default: '1024' },
    backend: { type: 'string', default: 's3' },
    runs: { type: 'string', default: '5' },
    'cpu-prof': { type: 'boolean', default: false },
    'peer-only': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const size = Math.round(Number(flags.size) * MiB);
const runs = Number(flags.runs);
if (!(size > 0) || !(runs >= 1) || !['s3', 'fs'].includes(flags.backend)) {
  console.error(
    'usage: npm run bench -- hit [--size MiB] [--backend s3|fs] [--runs N] [--cpu-prof]',
  );
  process.exit(2);
}
const backendName = flags['peer-only'] ? 'fs' : flags.backend;
const GOAL_BYTES_PER_S = 1.5 * GiB;
const RSS_GOAL = 150 * 1000 * 1000;
const BUCKET = 'bench-hit';
const KEY = 'hit/object.bin';

const session = benchSession('hit', { keep: flags.keep });
const rows: Row[] = [];
const goals: Row[] = [];
const samples: Record<string, TimedTransfer[]> = { peer: [], cat: [], rgw: [] };
let peakRss = 0;
let idleRss = 0;
/** Daemon CPU seconds per GiB served, per peer GET. */
const cpuPerGiB: number[] = [];

/** The largest file under `dir`: the cached object's data file. */
function largestFile(dir: string): { path: string; size: number } {
  let best = { path: '', size: -1 };
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const { size: bytes } = statSync(path);
    if (bytes > best.size) best = { path, size: bytes };
  }
  return best;
}

const fsBackend = { name: 'fs', root: join(session.scratch, 'backend') };
await session.run(async () => {
  const peerOnly = flags['peer-only'];
  const rgw = peerOnly ? undefined : await startBenchRgw(session.stops);
  const backend = rgw && flags.backend === 's3' ? rgw.backend : fsBackend;
  const dataDir = join(session.scratch, 'data');
  const config = localDaemonConfig(backend, dataDir, 3 * size);
  const writer = await session.startDaemon('writer', config);
  const client = createDfstoreClient({ endpoint: writer.api });
  session.stops.push(() => client.destroy());
  await client.createBucket(BUCKET);
  // Mode 1: in the backend and in the cache once acknowledged.
  const object = generatedObject(size);
  await client.putObject(BUCKET, KEY, object.stream, { mode: 1, contentLength: size });
  await client.close();
  // A fresh daemon on the same cache (its index survives restarts): the RSS and CPU figures are
  // the GETs', not what the PUT left behind.
  const stopped = await writer.stop();
  if (stopped !== 'exit code 0') throw new Error(`the writing daemon stopped with ${stopped}`);
  const daemon = await session.startDaemon(
    'daemon',
    config,
    cpuProfArgs(session, flags['cpu-prof']),
  );
  if (rgw && flags.backend === 'fs') {
    await rgw.createBucket(BUCKET);
    await rgw.putGenerated(BUCKET, KEY, size);
  }
  const direct = rgw ? await rgw.presignGet(BUCKET, KEY) : undefined;
  const cached = largestFile(dataDir);
  if (cached.size !== size) throw new Error(`cached data file is ${cached.size} B, not ${size}`);
  const peerUrl = `${daemon.api}/buckets/${BUCKET}/objects/${KEY}`;
  idleRss = readProcMemory(daemon.pid)?.rss ?? 0;

  const sampler = sampleRss(daemon.pid, 50);
  try {
    sampler.mark();
    for (let run = 0; run < runs; run++) {
      const cpuBefore = cpuSeconds(daemon.pid);
      const peer = await curlGet(peerUrl);
      cpuPerGiB.push(((cpuSeconds(daemon.pid) - cpuBefore) * GiB) / size);
      if (peer.bytes !== size) throw new Error(`peer GET returned ${peer.bytes} of ${size} B`);
      samples.peer?.push(peer);
      samples.cat?.push(await catFile(cached.path, size));
      console.error(
        `run ${run + 1}: peer ${(size / MiB / peer.seconds).toFixed(0)} MiB/s, ` +
          `daemon ${cpuPerGiB.at(-1)?.toFixed(2)} CPU s/GiB`,
      );
      if (!direct) continue;
      const fromRgw = await curlGet(direct);
      if (fromRgw.bytes !== size) throw new Error(`RGW GET returned ${fromRgw.bytes} B`);
      samples.rgw?.push(fromRgw);
      console.error(`run ${run + 1}: rgw ${(size / MiB / fromRgw.seconds).toFixed(0)} MiB/s`);
    }
    const peak = sampler.peak();
    // The peak also covers the cat and RGW runs, where the daemon idles.
    peakRss = Math.max(peak.sampledRss, peak.hwmIsWindowPeak ? peak.hwm : 0);
  } finally {
    sampler.stop();
  }
  const hits = metricValue(
    await (await fetch(`${daemon.pieces}/metrics`)).text(),
    'dfstore_cache_hits_total',
  );
  if (hits !== runs) throw new Error(`${hits} cache hits for ${runs} GETs`);
  const status = await daemon.stop();
  if (status !== 'exit code 0') throw new Error(`the daemon stopped with ${status}`);
});

const label: Record<string, string> = {
  peer: 'GET from the peer (cache hit)',
  cat: '`cat` of the cached data file',
  rgw: 'GET straight from RGW',
};
const rate = (name: string) => {
  const secs = median((samples[name] ?? []).map((s) => s.seconds));
  return size / secs;
};
for (const name of ['peer', 'cat', 'rgw']) {
  if (samples[name]?.length === 0) continue;
  const all = (samples[name] ?? []).map((s) => size / s.seconds);
  rows.push({
    source: label[name] ?? name,
    'MB/s (median)': (rate(name) / 1e6).toFixed(0),
    'GiB/s': (rate(name) / GiB).toFixed(2),
    'best MB/s': (Math.max(...all) / 1e6).toFixed(0),
    'daemon peak RSS (MB)': name === 'peer' ? (peakRss / 1e6).toFixed(0) : '',
    'daemon CPU s per GiB': name === 'peer' ? median(cpuPerGiB).toFixed(2) : '',
  });
}
goals.push(
  {
    goal: 'peer GET ≥ 1.5 GiB/s',
    value: `${(rate('peer') / GiB).toFixed(2)} GiB/s`,
    status: metOrMissed(rate('peer') >= GOAL_BYTES_PER_S),
  },
  {
    goal: 'daemon RSS < 150 MB',
    value: `${(peakRss / 1e6).toFixed(0)} MB`,
    status: metOrMissed(peakRss < RSS_GOAL),
  },
);
console.log(
  `\n${backendName} backend, ${size / MiB} MiB, median of ${runs} runs, curl as client; ` +
    `daemon idle RSS ${(idleRss / 1e6).toFixed(0)} MB, load ${loadavg()[0]?.toFixed(1)}\n`,
);
printTable(rows);
console.log('');
printTable(goals);
writeResults('hit', rows, {
  goals,
  backend: backendName,
  sizeBytes: size,
  runs,
  samples,
  daemonCpuSecondsPerGiB: cpuPerGiB,
  idleRssBytes: idleRss,
  peakRssBytes: peakRss,
  loadAverage: { start: session.loadAtStart, end: loadavg() },
});
