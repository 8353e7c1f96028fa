import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBackend } from '../../lib/backends/create-backend.ts';
import type { ObjectBackend } from '../../lib/backends/object-backend.ts';
import type { BackendConfigInput } from '../../lib/config/backend-config.ts';
import { WireClient } from '../helpers/go-dfstore-wire.ts';
import { type PeerDaemon, startPeerDaemon } from '../helpers/peer-daemon.ts';
import { metricValue } from '../helpers/prometheus-text.ts';
import {
  backendCopy,
  judgeAnswer,
  type SeededObject,
  seededObjects,
  seededRandom,
  seedFrom,
} from '../helpers/seeded-objects.ts';
import { goGet, goHead, goPut, MiB, type ProtocolTarget } from './dfstore-protocol-target.ts';
import '../helpers/provided-context.ts';

// Crash safety of mode 0 (AsyncWriteBack, PROTOCOL.md §3): a real daemon on the shared Ceph RGW
// is SIGKILLed at a random moment while a client uploads 50 objects, then restarted on the same
// data dir. Every acknowledged object must reach S3 byte-identical with its digest, and no
// partial object may ever be visible, through the daemon or in S3.
// Replay a failure with PEER_CRASH_SEED=<seed> (printed below).
const SEED = seedFrom(process.env, 'PEER_CRASH_SEED');
const RUNS = 5;
const OBJECTS = 50;
const UPLOADERS = 2;
const DRAIN_TIMEOUT_MS = 60_000;
console.log(`[peer-crash] seed ${SEED} (replay: PEER_CRASH_SEED=${SEED})`);

let daemon: PeerDaemon;
let backend: ObjectBackend;
let bucket: string;
let uploads: WireClient;
let reads: WireClient;
const target = (http: WireClient): ProtocolTarget => ({
  api: daemon.api,
  backendName: 's3',
  bucket,
  http,
});

beforeAll(async () => {
  const s3: BackendConfigInput = { name: 's3', forcePathStyle: true, ...inject('s3') };
  backend = await createBackend(s3);
  // A 5 MiB threshold sends the 5 MiB + 3 B objects up as multipart uploads, which a kill
  // can interrupt between parts.
  daemon = await startPeerDaemon({
    name: 'crash',
    backend: { ...s3, multipartThreshold: 5 * MiB, partSize: 5 * MiB },
    extraConfig: { logLevel: 'info' },
  });
  bucket = `crash-${randomBytes(4).toString('hex')}`;
  uploads = new WireClient(daemon.api);
  reads = new WireClient(daemon.api);
  expect((await uploads.send('POST', `/buckets/${bucket}`)).status).toBe(200);
});

afterAll(async () => {
  await Promise.all([uploads?.close(), reads?.close()]);
  await daemon?.dispose();
});

/** The daemon's life as the test drives it; `epoch` moves at each kill and restart. */
const life = { up: true, epoch: 0 };
let ackedJournaledTotal = 0;
const setUp = (up: boolean) => Object.assign(life, { up, epoch: life.epoch + 1 });

interface Failure {
  readonly error: string;
  /** The request overlapped a crash (the daemon was down, or was killed meanwhile). */
  readonly expected: boolean;
}
const isFailure = (value: object): value is Failure => 'error' in value;

/** Runs `request`, turning a transport error into a Failure. */
async function attempt<T extends object>(request: () => Promise<T>): Promise<T | Failure> {
  const { up, epoch } = life;
  try {
    return await request();
  } catch (error) {
    const expected = !up || life.epoch !== epoch;
    return {
      error: `${expected ? 'during the crash' : 'while the daemon was up'}: ${error}`,
      expected,
    };
  }
}

/**
 * GETs and HEADs random keys of `objects` through the daemon until stopped, recording every
 * answer that is neither a 404 nor exactly the object, and every transport error that no crash
 * explains (a response cut short while the daemon is up).
 */
function startChecker(objects: readonly SeededObject[], random: () => number) {
  const violations: string[] = [];
  let answers = 0;
  let stopped = false;
  const loop = (async () => {
    for (let n = 0; !stopped; n++) {
      const object = objects[Math.floor(random() * objects.length)] as SeededObject;
      const method = n % 2 === 0 ? 'GET' : 'HEAD';
      const t = target(reads);
      const res = await attempt(() => (method === 'GET' ? goGet : goHead)(t, object.key));
      if (isFailure(res)) {
        if (!res.expected) violations.push(`${method} ${object.key}: ${res.error}`);
        await sleep(20);
        continue;
      }
      answers++;
      const problem = judgeAnswer(method, object, res);
      if (problem) violations.push(problem);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { answers, violations };
    },
  };
}

async function journalPending(): Promise<number> {
  const res = await fetch(`${daemon.pieces}/metrics`);
  return metricValue(await res.text(), 'dfstore_journal_pending');
}

async function waitForDrainedJournal(): Promise<void> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  let pending = Number.NaN;
  while (Date.now() < deadline) {
    pending = await journalPending().catch(() => Number.NaN);
    if (pending === 0) return;
    await sleep(100);
  }
  throw new Error(
    `journal still has ${pending} entries after ${DRAIN_TIMEOUT_MS} ms\n${await daemon.logTail(40)}`,
  );
}

/** Keys with an entry in the dead daemon's write-back journal (a white-box look at the crash). */
async function journaledKeys(): Promise<Set<string>> {
  const dir = join(daemon.dataDir, 'journal');
  const names = (await readdir(dir)).filter((name) => name.endsWith('.json'));
  const read = async (name: string) =>
    (JSON.parse(await readFile(join(dir, name), 'utf8')) as { key: string }).key;
  return new Set(await Promise.all(names.map(read)));
}

/**
 * One crash: the kill is armed when PUT number `killAt` (3..40 of 50) is sent and fires
 * `killDelayMs` (0..59 ms) later, so it lands mid-run at a random point of the request cycle
 * (body streaming, fsync, journal append, response) while write-backs run to S3.
 */
async function crashRun(run: number) {
  const random = seededRandom(SEED + run * 0x9e3779b1);
  const prefix = `run-${run}/`;
  const objects = await seededObjects(prefix, OBJECTS, random);
  const killAt = 3 + Math.floor(random() * (OBJECTS - 12));
  const killDelayMs = Math.floor(random() * 60);
  const checker = startChecker(objects, seededRandom(SEED ^ (run + 1)));
  const outcomes = new Map<string, string>();
  let killing: Promise<unknown> | undefined;
  let killed = false;
  let next = 0;

  const uploader = async () => {
    while (!killed && next < objects.length) {
      const i = next++;
      const object = objects[i] as SeededObject;
      if (i === killAt) {
        killing = sleep(killDelayMs)
          .then(() => {
            setUp(false);
            return daemon.kill();
          })
          .finally(() => {
            killed = true;
          });
      }
      const input = { key: object.key, data: object.data, mode: 0, maxReplicas: 3 };
      const res = await attempt(() => goPut(target(uploads), input));
      if (isFailure(res)) outcomes.set(object.key, res.error);
      else outcomes.set(object.key, res.status === 200 ? 'ok' : `status ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: UPLOADERS }, uploader));
  expect(killing, 'the kill was armed').toBeDefined();
  await killing;
  const exit = await daemon.exited;
  expect(exit.signal, 'the daemon died of our SIGKILL, not before').toBe('SIGKILL');
  const journaled = await journaledKeys();
  await daemon.restart();
  setUp(true);
  await waitForDrainedJournal();
  const during = await checker.stop();

  const acked = objects.filter((object) => outcomes.get(object.key) === 'ok');
  const ackedJournaled = acked.filter((object) => journaled.has(object.key)).length;
  ackedJournaledTotal += ackedJournaled;
  console.log(
    `[peer-crash] run ${run}: kill at PUT #${killAt} + ${killDelayMs} ms; ` +
      `${acked.length} acked, ${outcomes.size - acked.length} failed, ` +
      `${journaled.size} journaled at the crash (${ackedJournaled} of them acked), ` +
      `${during.answers} answers checked during the run`,
  );
  expect(during.violations, 'answers while uploading, crashing and draining').toEqual([]);
  expect(during.answers).toBeGreaterThan(0);
  // Only the crash may fail a PUT: any error status, or a transport error while up, is a bug.
  const refused = [...outcomes].filter(([, outcome]) => !/^(ok|during the crash)/.test(outcome));
  expect(refused, 'PUTs that failed for another reason than the crash').toEqual([]);
  expect(acked.length).toBeGreaterThan(0);

  const problems: string[] = [];
  const present = new Set<string>();
  for (const object of objects) {
    const wasAcked = outcomes.get(object.key) === 'ok';
    const copy = await backendCopy(backend, bucket, object);
    if (copy === 'ok') present.add(object.key);
    else if (copy !== 'absent') problems.push(copy);
    else if (wasAcked) problems.push(`acknowledged object ${object.key} is not in the backend`);
    // Once drained, the daemon serves exactly what it acknowledged or what S3 holds.
    const mustExist = wasAcked || copy === 'ok';
    for (const method of ['GET', 'HEAD'] as const) {
      const t = target(reads);
      const res = await (method === 'GET' ? goGet(t, object.key) : goHead(t, object.key));
      const problem = judgeAnswer(method, object, res, mustExist);
      if (problem) problems.push(`after restart: ${problem}`);
    }
  }
  const listed = (await backend.listObjects(bucket, { prefix })).objects.map((o) => o.key);
  expect(problems).toEqual([]);
  expect(listed.sort()).toEqual([...present].sort());
}

describe('mode 0 (AsyncWriteBack) survives a SIGKILL of the daemon', () => {
  for (let run = 1; run <= RUNS; run++) {
    it(
      `run ${run}: acknowledged objects reach S3 intact; nothing partial is ever visible`,
      () => crashRun(run),
      60_000,
    );
  }

  // Guards the test's own reach: some kill must have caught an acknowledged object whose
  // write-back was still journaled (else the runs only show that S3 writes are atomic).
  it('caught acknowledged write-backs still journaled at some crash', () => {
    expect(ackedJournaledTotal).toBeGreaterThan(0);
  });
});
