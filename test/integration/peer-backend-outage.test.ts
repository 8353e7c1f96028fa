import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBackend } from '../../lib/backends/create-backend.ts';
import type { ObjectBackend } from '../../lib/backends/object-backend.ts';
import { WireClient } from '../helpers/go-dfstore-wire.ts';
import { type PeerDaemon, startPeerDaemon } from '../helpers/peer-daemon.ts';
import { metricValue } from '../helpers/prometheus-text.ts';
import { backendCopy, judgeAnswer, seededObject } from '../helpers/seeded-objects.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { goGet, goHead, goPut, MiB, type ProtocolTarget } from './dfstore-protocol-target.ts';
import '../helpers/provided-context.ts';

// A backend outage under a real daemon: its S3 endpoint is a TCP proxy in front of the shared
// Ceph RGW, paused (connections refused) and resumed. Mode 0 keeps acknowledging and serving
// from the cache, with the journal retrying; mode 1 fails loudly and leaves nothing behind.
// The journal's backoff (1 s base, full jitter, 5 min cap) has no config key, so the outage is
// kept to a few seconds and the post-outage wait is bounded generously.
const LAND_TIMEOUT_MS = 60_000;

let proxy: TcpProxy;
let daemon: PeerDaemon;
let direct: ObjectBackend;
let http: WireClient;
let t: ProtocolTarget;
const secret = inject('s3').secretAccessKey;

const asyncObjects = await Promise.all([
  seededObject('outage/async-small.bin', 64 * 1024, 11),
  seededObject('outage/dir/async-large.bin', 6 * MiB + 5, 12),
]);
const syncObject = await seededObject('outage/sync.bin', MiB, 13);

beforeAll(async () => {
  const s3 = inject('s3');
  const rgw = new URL(s3.endpoint);
  proxy = await startTcpProxy(rgw.hostname, Number(rgw.port));
  const viaProxy = `http://127.0.0.1:${proxy.port}`;
  daemon = await startPeerDaemon({
    name: 'outage',
    backend: { name: 's3', forcePathStyle: true, ...s3, endpoint: viaProxy },
    extraConfig: { logLevel: 'info' },
  });
  direct = await createBackend({ name: 's3', forcePathStyle: true, ...s3 });
  http = new WireClient(daemon.api);
  t = {
    api: daemon.api,
    backendName: 's3',
    bucket: `outage-${randomBytes(4).toString('hex')}`,
    http,
  };
});

afterAll(async () => {
  await http?.close();
  await daemon?.dispose();
  await proxy?.close();
});

async function scrape(): Promise<string> {
  return (await fetch(`${daemon.pieces}/metrics`)).text();
}

/** Polls `probe` every 100 ms until it returns true; throws `what` with the log tail at `ms`. */
async function eventually(what: string, ms: number, probe: () => Promise<boolean>) {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100)) {
    if (await probe()) return;
  }
  throw new Error(`${what}: not within ${ms} ms\n${await daemon.logTail(30)}`);
}

describe('a backend outage under the peer daemon', () => {
  it('creates the bucket through the proxy', async () => {
    expect((await http.send('POST', `/buckets/${t.bucket}`)).status).toBe(200);
    expect(await direct.bucketExists(t.bucket)).toBe(true);
    expect(proxy.connections).toBeGreaterThan(0);
  });

  it('during the outage: mode 0 is acknowledged (journaled)', async () => {
    await proxy.pause();
    for (const object of asyncObjects) {
      const res = await goPut(t, { key: object.key, data: object.data, mode: 0, maxReplicas: 3 });
      expect(res.status, `PUT ${object.key} mode 0`).toBe(200);
    }
  });

  it('during the outage: mode 1 fails with a 5xx that names the failed backend write', async () => {
    const res = await goPut(t, { key: syncObject.key, data: syncObject.data, mode: 1 });
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.status).toBeLessThan(600);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(res.body.toString('utf8')) as { errors: string; code: string };
    expect(body.code).toBe('ERR_BACKEND');
    expect(body.errors).toMatch(/putObject/);
    expect(body.errors).toMatch(/failed/);
    expect(body.errors).toContain(`${t.bucket}/${syncObject.key}`);
    for (const leak of [secret, 'Signature', 'Credential', 'Authorization']) {
      expect(body.errors).not.toContain(leak);
    }
  });

  it('during the outage: mode-0 objects are served from the cache (read-your-writes)', async () => {
    for (const object of asyncObjects) {
      expect(judgeAnswer('GET', object, await goGet(t, object.key), true)).toBeUndefined();
      expect(judgeAnswer('HEAD', object, await goHead(t, object.key), true)).toBeUndefined();
    }
    // The failed mode-1 object is not served: the backend cannot be asked, the cache dropped it.
    expect((await goGet(t, syncObject.key)).status).not.toBe(200);
    expect((await goHead(t, syncObject.key)).status).not.toBe(200);
  });

  it('during the outage: /metrics shows the pending write-backs and growing failures', async () => {
    const failures = async () => metricValue(await scrape(), 'dfstore_journal_failures_total');
    expect(metricValue(await scrape(), 'dfstore_journal_pending')).toBe(asyncObjects.length);
    let first = 0;
    await eventually('a failed write-back attempt', 10_000, async () => {
      first = await failures();
      return first >= 1;
    });
    await eventually(
      'another failed attempt (retries)',
      15_000,
      async () => (await failures()) > first,
    );
    const text = await scrape();
    expect(metricValue(text, 'dfstore_journal_pending')).toBe(asyncObjects.length);
    expect(metricValue(text, 'dfstore_journal_oldest_age_seconds')).toBeGreaterThan(0);
  });

  it('after the outage: mode-0 objects land in S3 byte-identical, with their digest', async () => {
    const failed = metricValue(await scrape(), 'dfstore_journal_failures_total');
    await proxy.resume();
    const resumed = Date.now();
    await eventually('the journal drained', LAND_TIMEOUT_MS, async () => {
      return metricValue(await scrape(), 'dfstore_journal_pending') === 0;
    });
    console.log(
      `[peer-backend-outage] ${failed} failed attempts during the outage; ` +
        `write-backs landed ${Date.now() - resumed} ms after it ended`,
    );
    for (const object of asyncObjects) {
      expect(await backendCopy(direct, t.bucket, object)).toBe('ok');
    }
  });

  it('after the outage: the mode-1 object that failed is neither in S3 nor served', async () => {
    expect(await backendCopy(direct, t.bucket, syncObject)).toBe('absent');
    expect((await goGet(t, syncObject.key)).status).toBe(404);
    expect((await goHead(t, syncObject.key)).status).toBe(404);
    const listed = await direct.listObjects(t.bucket, { prefix: 'outage/' });
    const keys = listed.objects.map((object) => object.key).sort();
    expect(keys).toEqual(asyncObjects.map((object) => object.key).sort());
  });

  it('after the outage: mode 1 works again', async () => {
    const res = await goPut(t, { key: syncObject.key, data: syncObject.data, mode: 1 });
    expect(res.status).toBe(200);
    expect(await backendCopy(direct, t.bucket, syncObject)).toBe('ok');
  });
});
