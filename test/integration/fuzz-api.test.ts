import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapedPaths, listTree, runApiFuzz } from '../../bench/lib/api-fuzz-run.ts';
import { type PeerDaemon, startPeerDaemon } from '../helpers/peer-daemon.ts';

// fast-check against a live daemon (fs backend): random methods, paths, keys (unicode, `%2F`,
// `..`, 4000 characters), headers, ranges and multipart bodies, well-formed or damaged. Every
// answer: no 5xx, errors as JSON `{"errors","code"}`; the process stays up and `/healthy`
// answers; nothing is written outside the data dir and the backend root. Fixed seed; the long
// run is `npm run bench -- fuzz --runs N --seed S`.
const SEED = 20261124;
const RUNS = Number(process.env.DFSTORE_FUZZ_RUNS ?? 5000);

let parent: string;
let daemon: PeerDaemon;
let before: string[];
let exited = false;

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'dfstore-fuzz-'));
  const root = join(parent, 'backend');
  await mkdir(join(parent, 'tmp'));
  daemon = await startPeerDaemon({
    name: 'fuzz',
    dataDir: join(parent, 'data'),
    backend: { name: 'fs', root },
    // Whatever the daemon writes to os.tmpdir() lands where the snapshot sees it.
    env: { TMPDIR: join(parent, 'tmp') },
    extraConfig: { logLevel: 'info', limits: { maxObjectSize: 1024 * 1024 } },
  });
  void daemon.exited.then(() => {
    exited = true;
  });
  expect((await fetch(`${daemon.api}/buckets/fuzz-bucket`, { method: 'POST' })).status).toBe(200);
  before = await listTree(parent);
});

afterAll(async () => {
  await daemon?.dispose();
  if (parent) await rm(parent, { recursive: true, force: true });
});

describe('fuzzing the object API of a live daemon', () => {
  // ≈ 30 s at the 150–350 requests/s of a shared 2-core machine.
  it(`keeps every invariant over ${RUNS} random requests (seed ${SEED})`, {
    timeout: 240_000,
  }, async () => {
    const result = await runApiFuzz({
      origin: daemon.api,
      runs: RUNS,
      seed: SEED,
      alive: () => !exited,
    });
    if (result.violations.length > 0) console.log(await daemon.logTail(40));
    expect(result.violations.slice(0, 5)).toEqual([]);
    expect(result.runs).toBe(RUNS);
    expect(exited).toBe(false);
    console.log(`fuzz: ${result.runs} requests, ${result.requestsPerSecond} req/s`);

    const after = await listTree(parent);
    expect(escapedPaths(before, after, ['data/', 'backend/', 'tmp/'])).toEqual([]);
    // Spool files are temporary: none is left once the requests are answered (tsx, which runs
    // the daemon's TypeScript in tests, keeps its transpile cache there).
    const leftInTmp = after.filter(
      (path) => path.startsWith('tmp/') && !path.startsWith('tmp/tsx-') && !path.endsWith('/'),
    );
    expect(leftInTmp).toEqual([]);
  });
});
