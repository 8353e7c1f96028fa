// One object (4 GiB by default) through a real peer daemon process: PUT in mode 0 (ack after the
// journal; the write-back is timed separately) and in mode 1 (ack after the backend), each GET
// back and sha256-compared; then a fresh daemon (empty cache, same backend) GETs the mode-1
// object back to source. The daemon's VmRSS/VmHWM is sampled every 100 ms.
// Goal: daemon peak RSS < 200 MB. Usage: npm run bench -- peer-put-get [sizeMiB=4096] [fs|s3]

import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createDfstoreClient, type DfstoreClient } from '../lib/client/dfstore-client.ts';
import type { WriteMode } from '../lib/core/write-mode.ts';
import { tailFiles } from '../test/helpers/daemon.ts';
import { startBenchS3 } from './lib/bench-s3.ts';
import { bundleEntry } from './lib/bundle.ts';
import { type BundledDaemon, startBundledDaemon } from './lib/bundled-daemon.ts';
import { generatedObject } from './lib/generated-object.ts';
import { GiB, MiB, printTable, type Row, writeResults } from './lib/report.ts';
import { type RssSampler, readProcMemory, sampleRss, type WindowPeak } from './lib/rss-sampler.ts';

const here = dirname(fileURLToPath(import.meta.url));
const sizeMiB = Number(process.argv[2] ?? 4096);
const backendName = process.argv[3] ?? 'fs';
if (!(sizeMiB > 0) || !['fs', 's3'].includes(backendName)) {
  console.error('usage: npm run bench -- peer-put-get [sizeMiB=4096] [fs|s3]');
  process.exit(2);
}
const size = Math.round(sizeMiB * MiB);
const RSS_GOAL = 200 * 1000 * 1000;
const BUCKET = 'bench';

// Other work on the machine skews MB/s (not RSS): the results record the load around the run.
const loadAtStart = loadavg();
const scratch = mkdtempSync(join(tmpdir(), 'dfstore-bench-peer-'));
const stops: (() => Promise<unknown>)[] = [];
let cleaning: Promise<void> | undefined;
let interrupted = false;
/** Idempotent: stops everything started so far (last first) and removes the temp dirs. */
const cleanup = () => {
  cleaning ??= (async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    rmSync(scratch, { recursive: true, force: true });
  })();
  return cleaning;
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping the daemon and removing ${scratch}`);
    void cleanup().then(() => process.exit(130));
  });
}

/** The fs backend and the piece store both hold a copy; the backend may stage one more. */
function assertDiskRoom(): void {
  const { bavail, bsize } = statfsSync(scratch);
  const free = bavail * bsize;
  if (free < 3 * size) {
    throw new Error(
      `not enough disk under ${tmpdir()}: ${(free / GiB).toFixed(1)} GiB free, the bench needs ` +
        `${((3 * size) / GiB).toFixed(1)} GiB (3 × the object); free some or set TMPDIR`,
    );
  }
}

async function backendConfig(): Promise<Record<string, unknown>> {
  if (backendName === 'fs') return { name: 'fs', root: join(scratch, 'backend') };
  return startBenchS3(stops);
}

/** Pending + running write-backs, from the daemon's Prometheus text. */
async function writeBacksLeft(daemon: BundledDaemon): Promise<number> {
  const text = await (await fetch(`${daemon.pieces}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return value('dfstore_journal_pending') + value('dfstore_journal_in_flight');
}

async function waitForWriteBacks(daemon: BundledDaemon): Promise<void> {
  const deadline = Date.now() + 60 * 60_000;
  while ((await writeBacksLeft(daemon)) > 0) {
    if (daemon.exitStatus !== undefined) throw new Error(`daemon died (${daemon.exitStatus})`);
    if (Date.now() > deadline) throw new Error('the write-back did not finish within an hour');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** sha256 hex of the object as GET returns it, and its length. */
async function getAndHash(client: DfstoreClient, key: string) {
  const { body } = await client.getObject(BUCKET, key);
  const hash = createHash('sha256');
  let length = 0;
  await pipeline(
    body,
    new Writable({
      highWaterMark: MiB,
      write(chunk: Buffer, _encoding, callback) {
        length += chunk.length;
        hash.update(chunk);
        callback();
      },
    }),
  );
  return { sha256: hash.digest('hex'), length };
}

const rows: Row[] = [];
const peaks: Record<string, WindowPeak> = {};

/** Runs one operation in its own RSS window and adds its row. */
async function measure(sampler: RssSampler, operation: string, fn: () => Promise<void>) {
  sampler.mark();
  const started = performance.now();
  await fn();
  const seconds = (performance.now() - started) / 1000;
  const peak = sampler.peak();
  peaks[operation] = peak;
  const peakRss = Math.max(peak.sampledRss, peak.hwmIsWindowPeak ? peak.hwm : 0);
  rows.push({
    operation,
    'size (MiB)': sizeMiB,
    seconds: seconds.toFixed(1),
    'MB/s': (size / 1e6 / seconds).toFixed(0),
    'daemon peak RSS (MB)': (peakRss / 1e6).toFixed(0),
    'RSS < 200 MB': peakRss < RSS_GOAL ? 'met' : 'missed',
  });
  console.error(`${operation}: ${seconds.toFixed(1)} s, peak RSS ${(peakRss / 1e6).toFixed(0)} MB`);
}

/** GETs `key`, failing unless the bytes are the `expected` sha256 and `size` long. */
async function getAndCheck(client: DfstoreClient, key: string, expected: string) {
  const got = await getAndHash(client, key);
  if (got.length !== size) throw new Error(`GET returned ${got.length} of ${size} bytes`);
  if (got.sha256 !== expected) throw new Error(`GET sha256 ${got.sha256} ≠ PUT ${expected}`);
}

/** PUT in `mode` (and, for mode 0, the write-back) then GET; resolves with the key and sha256. */
async function roundTrip(client: DfstoreClient, daemon: BundledDaemon, mode: WriteMode) {
  const sampler = sampleRss(daemon.pid, 100);
  const key = `peer-put-get/mode-${mode}.bin`;
  try {
    let expected = '';
    await measure(sampler, `PUT mode ${mode}`, async () => {
      const object = generatedObject(size);
      await client.putObject(BUCKET, key, object.stream, { mode, contentLength: size });
      expected = await object.sha256;
    });
    if (mode === 0) {
      await measure(sampler, 'write-back (mode 0, after the ack)', () => waitForWriteBacks(daemon));
    }
    await measure(sampler, `GET (mode ${mode} object, cached)`, () =>
      getAndCheck(client, key, expected),
    );
    return { key, expected };
  } finally {
    sampler.stop();
  }
}

function daemonConfig(backend: Record<string, unknown>, dataDir: string) {
  return {
    logLevel: 'info',
    shutdownTimeout: '10s',
    objectStorage: { tcpListen: { listen: '127.0.0.1', port: 0 } },
    upload: { tcpListen: { listen: '127.0.0.1', port: 0 } },
    storage: { dataDir, capacity: 3 * size },
    backend,
  };
}

/** Starts the bundled daemon (killed by cleanup if still running) and a client of it. */
async function startPeer(bundle: string, backend: Record<string, unknown>, dataDir: string) {
  const started = await startBundledDaemon({
    bundle,
    dir: scratch,
    config: daemonConfig(backend, dataDir),
  });
  daemon = started;
  stops.push(() => started.kill());
  const client = createDfstoreClient({ endpoint: started.api });
  stops.push(() => client.destroy());
  return { peer: started, client };
}

/** Closes the client, then SIGTERM: the daemon must stop gracefully (exit 0). */
async function stopPeer(peer: BundledDaemon, client: DfstoreClient) {
  await client.close();
  const status = await peer.stop();
  if (status !== 'exit code 0') throw new Error(`the daemon stopped with ${status}`);
}

let daemon: BundledDaemon | undefined;
/** The daemon's RSS once ready, before any request: what every peak above starts from. */
let idleRss = 0;
try {
  assertDiskRoom();
  const bundle = await bundleEntry(join(here, '..', 'lib', 'peer', 'main.ts'));
  stops.push(async () => rmSync(dirname(bundle), { recursive: true, force: true }));
  const backend = await backendConfig();
  const warm = await startPeer(bundle, backend, join(scratch, 'data'));
  idleRss = readProcMemory(warm.peer.pid)?.rss ?? 0;
  await warm.client.createBucket(BUCKET);
  const first = await roundTrip(warm.client, warm.peer, 0);
  await warm.client.deleteObject(BUCKET, first.key);
  const kept = await roundTrip(warm.client, warm.peer, 1);
  await stopPeer(warm.peer, warm.client);
  rmSync(join(scratch, 'data'), { recursive: true, force: true });

  // A fresh cache on the same backend: the GET streams from the backend while filling the cache.
  const cold = await startPeer(bundle, backend, join(scratch, 'data-cold'));
  const sampler = sampleRss(cold.peer.pid, 100);
  try {
    await measure(sampler, 'GET (mode 1 object, cold cache: back to source)', () =>
      getAndCheck(cold.client, kept.key, kept.expected),
    );
  } finally {
    sampler.stop();
  }
  await cold.client.deleteObject(BUCKET, kept.key);
  await stopPeer(cold.peer, cold.client);
} catch (error) {
  // After a signal, failures are the interruption's doing; the handler exits first.
  if (daemon && !interrupted) console.error(await tailFiles([daemon.logFile], 30));
  await cleanup();
  console.error(`peer-put-get failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
}
await cleanup();
console.log(
  `\npeer daemon (esbuild bundle), ${backendName} backend, one ${sizeMiB} MiB object; ` +
    `idle RSS ${(idleRss / 1e6).toFixed(0)} MB\n`,
);
printTable(rows);
writeResults('peer-put-get', rows, {
  backend: backendName,
  sizeBytes: size,
  rssGoalBytes: RSS_GOAL,
  idleRssBytes: idleRss,
  sampleIntervalMs: 100,
  loadAverage: { start: loadAtStart, end: loadavg() },
  peaks,
});
