import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBackend } from '../../lib/backends/create-backend.ts';
import type { ObjectBackend } from '../../lib/backends/object-backend.ts';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.ts';
import { WireClient, type WireResponse } from '../helpers/go-dfstore-wire.ts';
import { type PeerDaemon, startPeerDaemon } from '../helpers/peer-daemon.ts';
import { metricValue } from '../helpers/prometheus-text.ts';
import {
  backendCopy,
  judgeAnswer,
  type SeededObject,
  seededObject,
} from '../helpers/seeded-objects.ts';
import { goGet, goHead, goPut, MiB, type ProtocolTarget } from './dfstore-protocol-target.ts';
import '../helpers/provided-context.ts';

// A peer whose cache directory is a 48 MiB tmpfs, mounted in a private mount namespace of the
// daemon's own (nothing leaks to the host; it goes away with the process). S3 refuses every
// write-back meanwhile (500s from the fault proxy), so acknowledged mode-0 objects stay pinned
// and fill the disk: PUTs that do not fit get 507 {"code":"ERR_NO_SPACE"}, nothing partial is
// visible, the daemon stays up and serves what it acked. Once S3 works again the journal
// drains, those objects become evictable, and PUTs fit again without a restart.
const TMPFS_SIZE = '48m';
const OBJECT_SIZE = 4 * MiB + 1000;

function canMountTmpfs(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs';
  const probe = spawnSync(
    'unshare',
    ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount -t tmpfs tmpfs /mnt'],
    { encoding: 'utf8' },
  );
  if (probe.status !== 0) return `unshare --mount unavailable: ${probe.stderr || probe.error}`;
  return undefined;
}
const cannot = canMountTmpfs();
if (cannot) console.warn(`[fault-disk-full] skipped: ${cannot}`);

let proxy: FaultProxy;
let daemon: PeerDaemon;
let direct: ObjectBackend;
let http: WireClient;
let t: ProtocolTarget;
const acked: SeededObject[] = [];
let refused: SeededObject | undefined;

beforeAll(async () => {
  if (cannot) return;
  const s3 = inject('s3');
  const rgw = new URL(s3.endpoint);
  proxy = await startFaultProxy(rgw.hostname, Number(rgw.port));
  daemonDataDir = await mkdtemp(join(tmpdir(), 'dfstore-disk-full-'));
  daemon = await startPeerDaemon({
    name: 'disk-full',
    dataDir: daemonDataDir,
    backend: { name: 's3', forcePathStyle: true, ...s3, endpoint: proxy.url },
    extraConfig: {
      logLevel: 'info',
      objectStorage: { writeBack: { retryBase: '200ms', retryCap: '1s' } },
    },
    // mount(8) over the data dir inside a new mount namespace, then exec the daemon (same PID).
    launcher: (argv) => [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      `mount -t tmpfs -o size=${TMPFS_SIZE} tmpfs "$1" && shift && exec "$@"`,
      'sh',
      daemonDataDir,
      ...argv,
    ],
  });
  direct = await createBackend({ name: 's3', forcePathStyle: true, ...s3 });
  http = new WireClient(daemon.api);
  t = {
    api: daemon.api,
    backendName: 's3',
    bucket: `full-${randomBytes(4).toString('hex')}`,
    http,
  };
  expect((await http.send('POST', `/buckets/${t.bucket}`)).status).toBe(200);
});
/** The mount point (empty on the host: the tmpfs lives in the daemon's namespace only). */
let daemonDataDir = '';

afterAll(async () => {
  await proxy?.close();
  await http?.close();
  await daemon?.dispose();
  if (daemonDataDir) await rm(daemonDataDir, { recursive: true, force: true });
});

async function scrape(name: string): Promise<number> {
  return metricValue(await (await fetch(`${daemon.pieces}/metrics`)).text(), name);
}

function expectNoSpace(res: WireResponse): void {
  expect(res.status, res.body.toString('utf8').slice(0, 200)).toBe(507);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(res.body.toString('utf8')) as { errors: string; code: string };
  expect(body).toEqual({ errors: "no space left in the peer's cache", code: 'ERR_NO_SPACE' });
}

describe.skipIf(cannot !== undefined)('a cache disk that fills up', () => {
  it('fills: acked PUTs until one does not fit, which gets 507 ERR_NO_SPACE', async () => {
    proxy.inject({ action: { kind: 'error', status: 500 }, method: 'PUT' });
    for (let i = 0; i < 20 && !refused; i++) {
      const object = await seededObject(`full/obj-${i}.bin`, OBJECT_SIZE, 500 + i);
      const res = await goPut(t, { key: object.key, data: object.data, mode: 0 });
      if (res.status === 200) acked.push(object);
      else {
        expectNoSpace(res);
        refused = object;
      }
    }
    console.log(`[fault-disk-full] ${acked.length} objects acked before the disk was full`);
    expect(refused).toBeDefined();
    expect(acked.length).toBeGreaterThanOrEqual(5);
  });

  it('while full: mode 1 gets 507 too, nothing partial is visible, the daemon stays up', async () => {
    const sync = await seededObject('full/sync.bin', OBJECT_SIZE, 600);
    expectNoSpace(await goPut(t, { key: sync.key, data: sync.data, mode: 1 }));
    for (const object of [refused as SeededObject, sync]) {
      expect((await goGet(t, object.key)).status).toBe(404);
      expect((await goHead(t, object.key)).status).toBe(404);
    }
    expect((await http.send('GET', '/healthy')).status).toBe(200);
    for (const object of acked) {
      expect(judgeAnswer('GET', object, await goGet(t, object.key), true)).toBeUndefined();
    }
    expect(await scrape('dfstore_journal_pending')).toBe(acked.length);
  });

  it('while full: a DELETE works, and the room it frees takes a new PUT', async () => {
    const gone = acked.pop() as SeededObject;
    const res = await http.send('DELETE', `/buckets/${t.bucket}/objects/${gone.key}`);
    expect(res.status, res.body.toString('utf8').slice(0, 200)).toBe(200);
    expect((await goGet(t, gone.key)).status).toBe(404);
    expect(await scrape('dfstore_journal_pending')).toBe(acked.length);
    const next = await seededObject('full/after-delete.bin', 2 * MiB, 650);
    const put = await goPut(t, { key: next.key, data: next.data, mode: 0 });
    expect(put.status, put.body.toString('utf8').slice(0, 200)).toBe(200);
    acked.push(next);
  });

  it('once S3 works again: every acked object lands byte-identical', async () => {
    proxy.clear();
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(200)) {
      if ((await scrape('dfstore_journal_pending')) === 0) break;
    }
    expect(await scrape('dfstore_journal_pending')).toBe(0);
    for (const object of acked) expect(await backendCopy(direct, t.bucket, object)).toBe('ok');
  });

  it('then PUTs fit again without a restart (landed objects are evicted for room)', async () => {
    for (let i = 0; i < 3; i++) {
      const object = await seededObject(`full/after-${i}.bin`, OBJECT_SIZE, 700 + i);
      const res = await goPut(t, { key: object.key, data: object.data, mode: i === 0 ? 1 : 0 });
      expect(res.status, res.body.toString('utf8').slice(0, 200)).toBe(200);
      expect(judgeAnswer('GET', object, await goGet(t, object.key), true)).toBeUndefined();
      acked.push(object);
    }
    // Evicted objects are still served (from S3 now).
    for (const object of acked) {
      expect(judgeAnswer('GET', object, await goGet(t, object.key), true)).toBeUndefined();
    }
  });
});
