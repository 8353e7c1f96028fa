import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBackend } from '../../lib/backends/create-backend.ts';
import type { BackendConfigInput } from '../../lib/config/backend-config.ts';
import { PIECE_DIGEST_HEADER } from '../../lib/peer/piece-server.ts';
import type { TaskMeta } from '../../lib/storage/task-meta.ts';
import { type PeerDaemon, startPeerDaemon } from '../helpers/peer-daemon.ts';
import { metricValue } from '../helpers/prometheus-text.ts';
import '../helpers/provided-context.ts';

// The real `dfstore-daemon` process (node bin/dfstore-daemon.js) on 127.0.0.1, driven over HTTP
// with curl and fetch: once on the embedded fs backend, once on the shared Ceph RGW (S3).
const MiB = 1024 * 1024;
const run = promisify(execFile);
const md5 = (data: Buffer) => `md5:${createHash('md5').update(data).digest('hex')}`;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** `curl -F mode=… -F file=@…`, as a user would upload; resolves with the status code. */
async function curlPut(url: string, file: string, mode: number): Promise<number> {
  const { stdout } = await run('curl', [
    ...['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT'],
    ...['-F', `mode=${mode}`, '-F', `file=@${file}`, url],
  ]);
  return Number(stdout);
}

/** The piece store's meta of the task holding the object whose md5 digest is `digest`. */
async function findTask(dataDir: string, digest: string): Promise<TaskMeta> {
  const tasks = join(dataDir, 'tasks');
  for (const prefix of await readdir(tasks)) {
    for (const id of await readdir(join(tasks, prefix))) {
      const meta = JSON.parse(await readFile(join(tasks, prefix, id, 'meta.json'), 'utf8'));
      if (meta.digest === digest) return meta as TaskMeta;
    }
  }
  throw new Error(`no task with digest ${digest} under ${tasks}`);
}

interface Fixture {
  readonly daemon: PeerDaemon;
  readonly work: string;
  readonly bucket: string;
}

/** Round-trip through the process: POST bucket, curl PUT, GET (whole and range), HEAD. */
function testRoundTrip(fixture: () => Fixture, backendName: string, mode: number) {
  it(`round-trips a 9 MiB object (mode ${mode}) with curl, GET, Range GET and HEAD`, async () => {
    const { daemon, work, bucket } = fixture();
    expect((await fetch(`${daemon.api}/buckets/${bucket}`, { method: 'POST' })).status).toBe(200);
    const data = randomBytes(9 * MiB);
    const file = join(work, `upload-${mode}.bin`);
    await writeFile(file, data);
    const url = `${daemon.api}/buckets/${bucket}/objects/dir/object-${mode}.bin`;

    expect(await curlPut(url, file, mode)).toBe(200);

    const got = await fetch(url);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
    const ranged = await fetch(url, { headers: { Range: 'bytes=100-199' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 100-199/${data.length}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(100, 200))).toBe(true);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(data.length));
    expect(head.headers.get('x-dragonfly-object-meta-digest')).toBe(md5(data));
    expect(head.headers.get('x-dragonfly-object-meta-last-modified-time')).toMatch(/GMT$/);
    expect(await (await fetch(`${daemon.api}/metadata`)).json()).toMatchObject({
      Name: backendName,
    });
  });
}

describe('dfstore-daemon on the fs backend', () => {
  let fixture: Fixture;
  beforeAll(async () => {
    const work = await mkdtemp(join(tmpdir(), 'dfstore-daemon-fs-'));
    const daemon = await startPeerDaemon({ backend: { name: 'fs', root: join(work, 'backend') } });
    fixture = { daemon, work, bucket: 'daemon-fs' };
  });
  afterAll(async () => {
    await fixture?.daemon.dispose();
    if (fixture) await rm(fixture.work, { recursive: true, force: true });
  });

  it('prints a ready line with the real ports, and answers /healthy on both listeners', async () => {
    const { daemon } = fixture;
    expect(daemon.ready).toMatchObject({ msg: 'ready', level: 'info', backend: 'fs' });
    for (const base of [daemon.api, daemon.pieces]) {
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(base).not.toMatch(/:0$/);
      const res = await fetch(`${base}/healthy`);
      expect(res.status).toBe(200);
      expect(await res.json()).toBe('OK');
    }
  });

  testRoundTrip(() => fixture, 'fs', 0);

  it('serves a piece of a task with its sha256 from the piece server', async () => {
    const { daemon, work, bucket } = fixture;
    const data = randomBytes(9 * MiB + 123);
    await writeFile(join(work, 'pieces.bin'), data);
    const url = `${daemon.api}/buckets/${bucket}/objects/pieces.bin`;
    expect(await curlPut(url, join(work, 'pieces.bin'), 1)).toBe(200);
    const meta = await findTask(daemon.dataDir, md5(data));
    expect(meta.pieceCount).toBe(3);

    const { taskId, pieceSize } = meta;
    const res = await fetch(`${daemon.pieces}/download/${taskId.slice(0, 3)}/${taskId}?peerId=p1`, {
      headers: { Range: `bytes=${pieceSize}-${2 * pieceSize - 1}` },
    });
    expect(res.status).toBe(206);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.equals(data.subarray(pieceSize, 2 * pieceSize))).toBe(true);
    expect(res.headers.get(PIECE_DIGEST_HEADER)).toBe(sha256(body));
    expect(res.headers.get(PIECE_DIGEST_HEADER)).toBe(meta.pieceDigests[1]);
    const unknown = await fetch(`${daemon.pieces}/download/000/${'0'.repeat(64)}?peerId=p1`);
    expect(unknown.status).toBe(404);
  });

  it('moves its counters on /metrics, labelled by route pattern', async () => {
    const { daemon, bucket } = fixture;
    const route = { method: 'GET', route: '/buckets/:bucket/objects/*', status: '200' };
    const scrape = async () => (await fetch(`${daemon.pieces}/metrics`)).text();
    const before = await scrape();

    const res = await fetch(`${daemon.api}/buckets/${bucket}/objects/dir/object-0.bin`);
    const size = (await res.arrayBuffer()).byteLength;
    const after = await scrape();

    const delta = (name: string, labels?: Record<string, string>) =>
      metricValue(after, name, labels) - metricValue(before, name, labels);
    expect(delta('dfstore_http_requests_total', route)).toBe(1);
    expect(delta('dfstore_http_request_duration_seconds_count', route)).toBe(1);
    expect(delta('dfstore_bytes_sent_total', { server: 'api' })).toBeGreaterThan(size);
    expect(delta('dfstore_bytes_received_total', { server: 'api' })).toBeGreaterThan(0);
    expect(delta('dfstore_cache_hits_total')).toBe(1);
    expect(after).not.toContain('/objects/dir/object-0.bin');
    for (const gauge of ['dfstore_journal_pending', 'dfstore_journal_oldest_age_seconds']) {
      expect(after).toMatch(new RegExp(`^${gauge} \\d`, 'm'));
    }
    expect(after).toMatch(/^dfstore_journal_failures_total 0$/m);
    expect(metricValue(after, 'dfstore_store_used_bytes')).toBeGreaterThan(18 * MiB);
    expect(metricValue(after, 'dfstore_store_tasks')).toBe(2);
  });

  it('answers 431 to request headers over 16 KiB, and keeps serving', async () => {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const big = 'x'.repeat(20 * 1024);
      request(`${fixture.daemon.api}/healthy`, { headers: { 'x-big': big } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(431);
    expect((await fetch(`${fixture.daemon.api}/healthy`)).status).toBe(200);
  });

  it('logs JSON with a requestId per request, and never the query string', async () => {
    const { daemon, bucket } = fixture;
    const secret = 'X-Amz-Signature=deadbeef';
    await fetch(`${daemon.api}/buckets/${bucket}/objects/missing?${secret}`, {
      headers: { 'X-Request-Id': 'test-request-1', Authorization: 'Basic c2VjcmV0' },
    });
    // The access line is written as the response ends: it may land just after the client has
    // the answer.
    await expect
      .poll(() => daemon.logTail(400), { timeout: 5_000 })
      .toContain('"requestId":"test-request-1"');
    const log = await daemon.logTail(400);
    expect(log).not.toContain('deadbeef');
    expect(log).not.toContain('c2VjcmV0');
  });
});

describe('dfstore-daemon on the S3 backend (Ceph RGW)', () => {
  let fixture: Fixture;
  let backend: BackendConfigInput;
  beforeAll(async () => {
    const s3 = inject('s3');
    backend = { name: 's3', forcePathStyle: true, ...s3 };
    const work = await mkdtemp(join(tmpdir(), 'dfstore-daemon-s3-'));
    const daemon = await startPeerDaemon({ backend });
    fixture = { daemon, work, bucket: `daemon-s3-${randomBytes(4).toString('hex')}` };
  });
  afterAll(async () => {
    await fixture?.daemon.dispose();
    if (fixture) await rm(fixture.work, { recursive: true, force: true });
  });

  testRoundTrip(() => fixture, 's3', 1);

  it('has written the mode-1 object to S3 before acknowledging it', async () => {
    const s3 = await createBackend(backend);
    const metadata = await s3.headObject(fixture.bucket, 'dir/object-1.bin');
    expect(metadata.contentLength).toBe(9 * MiB);
    expect(metadata.digest).toMatch(/^md5:[0-9a-f]{32}$/);
  });
});
