// `npm run bench -- fuzz [--runs N] [--seed S]`: the long run of the HTTP API fuzzer
// (test/integration/fuzz-api.test.ts is the short one). One live daemon on the fs backend in a
// temp dir; prints runs, seed, failures, requests/s and whether anything was written outside
// the data dir and the backend root; writes bench/results/fuzz.json.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startPeerDaemon } from '../test/helpers/peer-daemon.ts';
import { escapedPaths, listTree, runApiFuzz } from './lib/api-fuzz-run.ts';
import { printTable, writeResults } from './lib/report.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20000' },
    seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
  },
});
const runs = Number(values.runs);
const seed = Number(values.seed);

const parent = await mkdtemp(join(tmpdir(), 'dfstore-fuzz-bench-'));
await mkdir(join(parent, 'tmp'));
const daemon = await startPeerDaemon({
  name: 'fuzz-bench',
  dataDir: join(parent, 'data'),
  backend: { name: 'fs', root: join(parent, 'backend') },
  env: { TMPDIR: join(parent, 'tmp') },
  extraConfig: { logLevel: 'info', limits: { maxObjectSize: 1024 * 1024 } },
});
let exited = false;
void daemon.exited.then(() => {
  exited = true;
});
try {
  await fetch(`${daemon.api}/buckets/fuzz-bucket`, { method: 'POST' });
  const before = await listTree(parent);
  const result = await runApiFuzz({ origin: daemon.api, runs, seed, alive: () => !exited });
  const after = await listTree(parent);
  const escaped = escapedPaths(before, after, ['data/', 'backend/', 'tmp/']);
  const rows = [
    {
      runs: result.runs,
      seed,
      failures: result.violations.length,
      'requests/s': result.requestsPerSecond,
      'duration s': (result.durationMs / 1000).toFixed(1),
      'daemon up': exited ? 'no' : 'yes',
      'written outside': escaped.length,
    },
  ];
  printTable(rows);
  for (const violation of result.violations.slice(0, 10)) {
    console.log(`\n${violation.why}\n  ${violation.request}`);
  }
  if (escaped.length > 0) console.log(`\nwritten outside: ${escaped.slice(0, 20).join(', ')}`);
  if (result.violations.length > 0) console.log(`\n${await daemon.logTail(30)}`);
  writeResults('fuzz', rows, { violations: result.violations.slice(0, 50), escaped });
  process.exitCode = result.violations.length > 0 || escaped.length > 0 ? 1 : 0;
} finally {
  await daemon.dispose();
  await rm(parent, { recursive: true, force: true });
}
