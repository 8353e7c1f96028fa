// Streams one object (1 GiB by default) through each backend adapter: PUT then GET.
// Prints throughput and the adapter process's peak RSS (goal: < 150 MB).
// Usage: npm run bench -- backend-stream [sizeMiB] [adapters, e.g. fs,s3,oss]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchS3 } from './lib/bench-s3.ts';
import { bundleEntry } from './lib/bundle.ts';
import { runJson, spawnJsonLine, stopChild } from './lib/processes.ts';
import { MiB, printTable, type Row, writeResults } from './lib/report.ts';

const here = dirname(fileURLToPath(import.meta.url));
const sizeMiB = Number(process.argv[2] ?? 1024);
const adapters = (process.argv[3] ?? 'fs,s3,oss').split(',');
const size = sizeMiB * MiB;
const RSS_GOAL = 150 * 1000 * 1000;

const scratch = mkdtempSync(join(tmpdir(), 'dfstore-bench-'));
const stops: (() => Promise<void>)[] = [];
const cleanup = async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  rmSync(scratch, { recursive: true, force: true });
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

const configs: Record<string, () => Promise<unknown>> = {
  fs: async () => ({ name: 'fs', root: join(scratch, 'fs') }),
  s3: () => startBenchS3(stops),
  oss: async () => {
    const { child, value } = await spawnJsonLine<{ endpoint: string }>(
      join(here, 'lib', 'oss-server-main.ts'),
      ['bench-ak', 'bench-secret', join(scratch, 'oss')],
    );
    stops.push(() => stopChild(child));
    return {
      name: 'oss',
      region: 'oss-cn-hangzhou',
      endpoint: value.endpoint,
      sldEnable: true,
      accessKeyId: 'bench-ak',
      accessKeySecret: 'bench-secret',
    };
  },
};

/** Optional overrides of the adapters' multipart tuning, e.g. BENCH_PART_MIB=8 BENCH_PARALLEL=4. */
function tuning(): Record<string, number> {
  const out: Record<string, number> = {};
  const part = Number(process.env.BENCH_PART_MIB);
  const parallel = Number(process.env.BENCH_PARALLEL);
  if (part > 0) Object.assign(out, { partSize: part * MiB, multipartThreshold: part * MiB });
  if (parallel > 0) Object.assign(out, { queueSize: parallel, parallel });
  return out;
}

const rows: Row[] = [];
const worker = await bundleEntry(join(here, 'lib', 'backend-stream-worker.ts'));
try {
  for (const adapter of adapters) {
    const make = configs[adapter];
    if (!make) throw new Error(`unknown adapter ${adapter}`);
    const config = { ...((await make()) as object), ...tuning() };
    const result = await runJson<{
      putSeconds: number;
      getSeconds: number;
      peakRss: number;
      peakRssPut: number;
    }>(worker, [JSON.stringify(config), String(size)]);
    rows.push({
      adapter,
      'size (MiB)': sizeMiB,
      'PUT MB/s': (size / 1e6 / result.putSeconds).toFixed(0),
      'GET MB/s': (size / 1e6 / result.getSeconds).toFixed(0),
      'peak RSS PUT (MB)': (result.peakRssPut / 1e6).toFixed(0),
      'peak RSS (MB)': (result.peakRss / 1e6).toFixed(0),
      'RSS < 150 MB': result.peakRss < RSS_GOAL ? 'met' : 'missed',
    });
  }
} finally {
  await cleanup();
}
printTable(rows);
writeResults('backend-stream', rows);
