import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
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
import { goGet, goPut, MiB, type ProtocolTarget } from './dfstore-protocol-target.ts';
import '../helpers/provided-context.ts';

// S3 faults under a real daemon: its S3 endpoint is a fault proxy in front of the shared Ceph
// RGW that answers 500s, resets connections and stalls requests. Mode 0 keeps acknowledging
// (the journal retries until the faults stop, no restart), mode 1 fails with a JSON 500 or
// succeeds through the SDK's retries and never leaves a failed write visible, cached objects
// stay readable, cold reads fail clearly and work again afterwards. The write-back backoff is
// shortened (200 ms base, 2 s cap) so recovery is quick; the S3 request (idle) timeout is 2 s.
const REQUEST_TIMEOUT_MS = 2_000;
/** A stalled request must fail within this (the SDK tries 3 times, each bounded by the idle timeout). */
const STALL_BOUND_MS = 4 * REQUEST_TIMEOUT_MS + 8_000;

let proxy: FaultProxy;
let daemon: PeerDaemon;
let direct: ObjectBackend;
let http: WireClient;
let t: ProtocolTarget;

let seq = 0;
const fresh = (name: string, size = 200 * 1024) =>
  seededObject(`faults/${name}-${seq++}.bin`, size, 1000 + seq);
/** Mode-0 objects acknowledged during faults: each must land in S3 byte-identical. */
const acked: SeededObject[] = [];
/** Mode-1 objects whose PUT failed before reaching S3: never visible anywhere. */
const failed: SeededObject[] = [];

beforeAll(async () => {
  const s3 = inject('s3');
  const rgw = new URL(s3.endpoint);
  proxy = await startFaultProxy(rgw.hostname, Number(rgw.port));
  daemon = await startPeerDaemon({
    name: 'fault-s3',
    backend: {
      name: 's3',
      forcePathStyle: true,
      ...s3,
      endpoint: proxy.url,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    },
    extraConfig: {
      logLevel: 'info',
      objectStorage: { writeBack: { retryBase: '200ms', retryCap: '2s' } },
    },
  });
  direct = await createBackend({ name: 's3', forcePathStyle: true, ...s3 });
  http = new WireClient(daemon.api);
  t = {
    api: daemon.api,
    backendName: 's3',
    bucket: `faults-${randomBytes(4).toString('hex')}`,
    http,
  };
  expect((await http.send('POST', `/buckets/${t.bucket}`)).status).toBe(200);
});

afterAll(async () => {
  if (process.env.FAULT_DEBUG) console.log(await daemon?.logTail(60));
  await proxy?.close();
  await http?.close();
  await daemon?.dispose();
});

async function pending(): Promise<number> {
  const text = await (await fetch(`${daemon.pieces}/metrics`)).text();
  return metricValue(text, 'dfstore_journal_pending');
}

/** Polls every 100 ms; throws with the daemon's log tail after `ms`. Resolves the elapsed ms. */
async function eventually(what: string, ms: number, probe: () => Promise<boolean>) {
  const start = Date.now();
  for (const deadline = start + ms; Date.now() < deadline; await sleep(100)) {
    if (await probe()) return Date.now() - start;
  }
  throw new Error(`${what}: not within ${ms} ms\n${await daemon.logTail(30)}`);
}

function expectBackendError(res: WireResponse, what: string): void {
  expect(res.status, `${what}: ${res.body.toString().slice(0, 200)}`).toBe(500);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(res.body.toString('utf8')) as { errors: string; code: string };
  expect(body.code).toBe('ERR_BACKEND');
  expect(body.errors).toMatch(/^s3 \w+ .* failed: /);
}

/** The answer, or a failure naming the missing timeout once STALL_BOUND_MS have passed. */
async function bounded<T>(answer: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const why =
        `no answer within ${STALL_BOUND_MS} ms while S3 stalls: the daemon's S3 requests have ` +
        'no idle timeout (the S3 client needs requestHandler.socketTimeout)';
      reject(new Error(why));
    }, STALL_BOUND_MS);
  });
  try {
    return await Promise.race([answer, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function putMode0During(label: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const object = await fresh(`${label}-async`, i === 0 ? 6 * MiB + 7 : 64 * 1024 + i);
    const res = await goPut(t, { key: object.key, data: object.data, mode: 0 });
    expect(res.status, `mode-0 PUT during ${label}`).toBe(200);
    acked.push(object);
  }
}

describe('S3 answers 500s and resets connections', () => {
  let cached: SeededObject;
  let cold: SeededObject;

  it('before the faults: one object cached through the daemon, one only in S3', async () => {
    cached = await fresh('cached', MiB + 3);
    expect((await goPut(t, { key: cached.key, data: cached.data, mode: 1 })).status).toBe(200);
    cold = await fresh('cold', 300 * 1024);
    await direct.putObject(t.bucket, cold.key, Readable.from([cold.data]), {
      contentLength: cold.size,
      digest: cold.digest,
    });
  });

  it('500s: mode 0 is acked, mode 1 fails with JSON 500, cached reads work, cold reads fail', async () => {
    proxy.inject({ action: { kind: 'error', status: 500 } });
    await putMode0During('500', 3);
    const sync = await fresh('sync-500');
    expectBackendError(await goPut(t, { key: sync.key, data: sync.data, mode: 1 }), 'mode 1');
    failed.push(sync);
    expect(judgeAnswer('GET', cached, await goGet(t, cached.key), true)).toBeUndefined();
    for (const object of acked) {
      expect(judgeAnswer('GET', object, await goGet(t, object.key), true)).toBeUndefined();
    }
    expectBackendError(await goGet(t, cold.key), 'cold GET');
    expect(proxy.counts().error).toBeGreaterThan(3);
    proxy.clear();
  });

  it('resets before S3 saw the request: same behaviour', async () => {
    proxy.inject({ action: { kind: 'reset', phase: 'request', afterBytes: 1024 } });
    await putMode0During('reset', 2);
    const sync = await fresh('sync-reset');
    expectBackendError(await goPut(t, { key: sync.key, data: sync.data, mode: 1 }), 'mode 1');
    failed.push(sync);
    expect(judgeAnswer('GET', cached, await goGet(t, cached.key), true)).toBeUndefined();
    expectBackendError(await goGet(t, cold.key), 'cold GET');
    expect(proxy.counts().reset).toBeGreaterThan(2);
    proxy.clear();
  });

  it('resets mid-response: cold reads fail cleanly (never a truncated 200)', async () => {
    proxy.inject({ action: { kind: 'reset', phase: 'response', afterBytes: 1000 }, method: 'GET' });
    proxy.inject({ action: { kind: 'reset', phase: 'response' }, method: 'HEAD' });
    const res = await goGet(t, cold.key).catch((error: Error) => error);
    if (res instanceof Error) {
      // Headers already sent before the body broke: the connection is cut, not a short 200.
      expect(res.message).toMatch(/terminated|socket|closed|reset/i);
    } else if (res.status === 200) {
      expect(judgeAnswer('GET', cold, res, true)).toBeUndefined();
    } else {
      expectBackendError(res, 'cold GET');
    }
    proxy.clear();
    // At once: a read joining the failed import must not inherit its failure.
    expect(judgeAnswer('GET', cold, await goGet(t, cold.key), true)).toBeUndefined();
  });

  it('transient faults: mode 1 succeeds thanks to the daemon retrying the write', async () => {
    proxy.inject({ action: { kind: 'error', status: 500 }, method: 'PUT', count: 1 });
    proxy.inject({ action: { kind: 'reset', phase: 'request' }, method: 'PUT', count: 1 });
    const sync = await fresh('sync-retried', 100 * 1024);
    expect((await goPut(t, { key: sync.key, data: sync.data, mode: 1 })).status).toBe(200);
    expect(await backendCopy(direct, t.bucket, sync)).toBe('ok');
    const counts = proxy.counts();
    expect(counts.error + counts.reset).toBeGreaterThanOrEqual(2);
    proxy.clear();
  });

  it('after the faults: every acked write lands byte-identical without a restart', async () => {
    const ms = await eventually('journal drained', 30_000, async () => (await pending()) === 0);
    console.log(`[fault-s3] ${acked.length} acked writes landed ${ms} ms after the faults ended`);
    for (const object of acked) expect(await backendCopy(direct, t.bucket, object)).toBe('ok');
  });

  it('after the faults: failed mode-1 writes are neither in S3 nor served', async () => {
    for (const object of failed) {
      expect(await backendCopy(direct, t.bucket, object)).toBe('absent');
      expect((await goGet(t, object.key)).status).toBe(404);
    }
  });

  it('after the faults: cold reads work again', async () => {
    expect(judgeAnswer('GET', cold, await goGet(t, cold.key), true)).toBeUndefined();
  });
});

describe('S3 stalls', () => {
  it('a stalled request fails within a bound: mode 1 and cold GETs get a JSON 500', async () => {
    proxy.inject({ action: { kind: 'stall', phase: 'request' } });
    try {
      const sync = await fresh('sync-stall');
      const started = Date.now();
      const res = await bounded(goPut(t, { key: sync.key, data: sync.data, mode: 1 }));
      console.log(`[fault-s3] a stalled mode-1 PUT failed after ${Date.now() - started} ms`);
      expectBackendError(res, 'mode 1 under a stall');
      failed.push(sync);
      const cold = await fresh('cold-stall');
      expectBackendError(await bounded(goGet(t, cold.key)), 'cold GET under a stall');
    } finally {
      proxy.clear();
    }
  });

  it('a cold object whose body stalls mid-stream: the client is cut off, never left hanging', async () => {
    const cold = await fresh('cold-body-stall', 512 * 1024);
    await direct.putObject(t.bucket, cold.key, Readable.from([cold.data]), {
      contentLength: cold.size,
      digest: cold.digest,
    });
    proxy.inject({ action: { kind: 'stall', phase: 'response' }, method: 'GET' });
    try {
      const res = await bounded(goGet(t, cold.key).catch((error: Error) => error));
      if (res instanceof Error) expect(res.message).toMatch(/terminated|socket|closed|reset/i);
      else expectBackendError(res, 'cold GET with a stalled body');
    } finally {
      proxy.clear();
    }
    expect(judgeAnswer('GET', cold, await goGet(t, cold.key), true)).toBeUndefined();
  });

  it('write-backs stalled by S3 resume once the stall ends', async () => {
    proxy.inject({ action: { kind: 'stall', phase: 'request' } });
    const before = acked.length;
    await putMode0During('stall', 2);
    await eventually('a stalled write-back', 5_000, async () => proxy.stalled > 0);
    await sleep(REQUEST_TIMEOUT_MS + 1_000);
    expect(await pending()).toBe(2);
    proxy.clear();
    const ms = await eventually('journal drained', 30_000, async () => (await pending()) === 0);
    console.log(`[fault-s3] stalled write-backs landed ${ms} ms after the stall ended`);
    for (const object of acked.slice(before)) {
      expect(await backendCopy(direct, t.bucket, object)).toBe('ok');
    }
  });
});
