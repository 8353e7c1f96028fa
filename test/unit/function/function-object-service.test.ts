import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { UploadSessions } from '../../../lib/api/upload-sessions.ts';
import { createObjectsFunctionApp } from '../../../lib/function/app.ts';
import { createFunctionObjectService } from '../../../lib/function/function-object-service.ts';
import { SeedPeerAnswerError } from '../../../lib/function/seed-peer-service.ts';
import type { SeedPeer } from '../../../lib/manager/membership/membership-source.ts';
import type { CurrentVersion } from '../../../lib/peer/p2p-protocol.ts';
import { goMultipart } from '../../helpers/go-dfstore-wire.ts';
import {
  directoryOf,
  fakeBackend,
  fakeP2p,
  MiB,
  memoryService,
  rankedIds,
  seedPeerList,
  silentLogger,
  unreachableService,
} from './fakes.ts';

const LIMIT = 4 * MiB;
const noUploads = {} as UploadSessions;

interface Setup {
  readonly peers?: SeedPeer[];
  readonly unreachable?: string[];
  readonly pending?: CurrentVersion;
  /** Objects the cluster (every seed peer) serves. */
  readonly cluster?: Record<string, Buffer>;
  /** Objects in the backend (the fallback reads them). */
  readonly stored?: Record<string, Buffer>;
}

function setup(options: Setup = {}) {
  const peers = options.peers ?? seedPeerList();
  const unreachable = new Set(options.unreachable ?? []);
  const cluster = new Map(Object.entries(options.cluster ?? {}));
  const stored = new Map(Object.entries(options.stored ?? {}));
  const log: string[] = [];
  const services = new Map(peers.map((peer) => [peer.id, memoryService(cluster)]));
  const { backend } = fakeBackend(stored, log);
  const p2p = fakeP2p(options.pending, log);
  const service = createFunctionObjectService({
    backend,
    seedPeers: directoryOf(peers),
    seedPeerService: (peer) => {
      log.push(`contact ${peer.id}`);
      if (unreachable.has(peer.id)) return unreachableService();
      return services.get(peer.id)?.service ?? unreachableService();
    },
    p2p: p2p.client,
    inlineLimit: LIMIT,
    redirectTtlSeconds: 900,
    logger: silentLogger,
  });
  const app = createObjectsFunctionApp({
    service,
    uploads: noUploads,
    inlineLimit: LIMIT,
    auth: { mode: 'iam' },
  });
  /** Which seed peers ran `method`. */
  const servedBy = (method: string) =>
    [...services].filter(([, s]) => s.calls.includes(method)).map(([id]) => id);
  return { app, log, p2p, services, servedBy, stored, cluster, peers };
}

const put = (data: Buffer, fields: Record<string, string> = { mode: '1' }) => {
  const form = goMultipart([
    ...Object.entries(fields).map(([name, value]) => ({ name, value })),
    { name: 'file', filename: 'k', data },
  ]);
  return {
    method: 'PUT',
    body: form.body,
    headers: { 'content-type': form.contentType, 'content-length': String(form.body.length) },
  };
};

describe('object API function: forwarding', () => {
  it('serves a small GET from the key’s first seed peer in rank', async () => {
    const data = randomBytes(1000);
    const { app, servedBy, peers } = setup({ cluster: { 'bkt/a/k': data } });
    const response = await app.request('/buckets/bkt/objects/a/k');
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(data)).toBe(true);
    expect(servedBy('getObject')).toEqual([rankedIds('bkt/a/k', peers)[0]]);
  });

  it('forwards a small PUT with its mode, filter and maxReplicas', async () => {
    const data = randomBytes(2048);
    const { app, services, servedBy, peers } = setup();
    const fields = { mode: '0', filter: 'X-Amz-Signature', maxReplicas: '2' };
    const response = await app.request('/buckets/bkt/objects/k', put(data, fields));
    expect(response.status).toBe(200);
    const owner = rankedIds('bkt/k', peers)[0] ?? '';
    expect(servedBy('putObject')).toEqual([owner]);
    const [stored] = services.get(owner)?.puts ?? [];
    expect(stored?.data.equals(data)).toBe(true);
    expect(stored?.fields).toEqual({ mode: 0, filter: 'X-Amz-Signature', maxReplicas: 2 });
  });

  it('skips an unreachable seed peer for the next in rank, and keeps skipping it', async () => {
    const data = randomBytes(10);
    const peers = seedPeerList();
    const [first, second] = rankedIds('bkt/k', peers);
    const { app, log, servedBy } = setup({
      peers,
      unreachable: [first ?? ''],
      cluster: { 'bkt/k': data },
    });
    expect((await app.request('/buckets/bkt/objects/k')).status).toBe(200);
    expect(servedBy('getObject')).toEqual([second]);
    log.length = 0;
    expect((await app.request('/buckets/bkt/objects/k', { method: 'HEAD' })).status).toBe(200);
    expect(log).toEqual([`contact ${second}`]);
  });

  it('falls back to a synchronous backend write when no seed peer can be reached', async () => {
    const peers = seedPeerList();
    const { app, log, stored } = setup({ peers, unreachable: peers.map((p) => p.id) });
    const data = Buffer.from('durable before the ack');
    const response = await app.request('/buckets/bkt/objects/k', put(data, { mode: '0' }));
    expect(response.status).toBe(200);
    expect(stored.get('bkt/k')?.equals(data)).toBe(true);
    expect(log.filter((line) => line.startsWith('putObject md5:'))).toHaveLength(1);
  });

  it('rejects mode 2 with a 422 when it falls back to the backend', async () => {
    const { app, stored } = setup({ peers: [] });
    const response = await app.request(
      '/buckets/bkt/objects/k',
      put(Buffer.from('x'), { mode: '2' }),
    );
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(stored.size).toBe(0);
  });

  it('relays a seed peer’s error answer with its status and code', async () => {
    const { app } = setup();
    const missing = await app.request('/buckets/bkt/objects/missing');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ errors: 'Not Found', code: 'ERR_OBJECT_NOT_FOUND' });
    const relayed = new SeedPeerAnswerError(500, 'ERR_BACKEND', 's3 putObject b/k failed');
    expect(relayed.exposeMessage).toBe(true);
  });
});

describe('object API function: the inline limit', () => {
  const big = randomBytes(LIMIT + 1);

  it('redirects a GET above the limit to a presigned backend URL without reading the body', async () => {
    const { app, servedBy } = setup({ cluster: { 'bkt/big': big } });
    const response = await app.request('/buckets/bkt/objects/big');
    expect(response.status).toBe(307);
    expect(response.headers.get('location')).toBe(
      'http://s3.test/bkt/big?X-Amz-Signature=sig&X-Amz-Expires=900',
    );
    expect(servedBy('getObject')).toEqual([]);
  });

  it('serves an object of exactly the limit inline', async () => {
    const exact = randomBytes(LIMIT);
    const { app } = setup({ cluster: { 'bkt/exact': exact } });
    const response = await app.request('/buckets/bkt/objects/exact');
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(exact)).toBe(true);
  });

  it('flushes a pending version at its holder before redirecting', async () => {
    const holder = { peerId: 'peer-7', pieces: 'http://10.0.9.7:65002' };
    const pending = {
      taskId: 'a'.repeat(64),
      metadata: { contentLength: big.length, etag: '"p"', lastModified: new Date().toISOString() },
      holder,
    };
    const { app, log, peers } = setup({ cluster: { 'bkt/big': big }, pending });
    const response = await app.request('/buckets/bkt/objects/big');
    expect(response.status).toBe(307);
    const owner = rankedIds('bkt/big', peers)[0];
    const cluster = log.filter((line) => !line.startsWith('contact'));
    expect(cluster).toEqual([
      `currentVersion http://10.0.0.${Number(owner?.slice(5)) + 1}:65002 bkt/big`,
      `flushKey ${holder.pieces} bkt/big`,
      'presign GET bkt/big',
    ]);
  });

  it('does not flush when nothing is pending, and answers 503 when a flush fails', async () => {
    const quiet = setup({ cluster: { 'bkt/big': big } });
    expect((await quiet.app.request('/buckets/bkt/objects/big')).status).toBe(307);
    expect(quiet.log.some((line) => line.startsWith('flushKey'))).toBe(false);

    const holder = { peerId: 'peer-7', pieces: 'http://10.0.9.7:65002' };
    const pending = {
      taskId: 'b'.repeat(64),
      metadata: { contentLength: big.length, etag: '"p"', lastModified: new Date().toISOString() },
      holder,
    };
    const failing = setup({ cluster: { 'bkt/big': big }, pending });
    failing.p2p.failFlush(new Error('holder gone'));
    const response = await failing.app.request('/buckets/bkt/objects/big');
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ code: 'ERR_FLUSH_FAILED' });
    expect(failing.log).not.toContain('presign GET bkt/big');
  });

  it('redirects a Range GET that selects more than the limit, and serves a small one inline', async () => {
    const { app } = setup({ cluster: { 'bkt/big': big } });
    const large = await app.request('/buckets/bkt/objects/big', {
      headers: { range: `bytes=0-${LIMIT}` },
    });
    expect(large.status).toBe(307);
    const small = await app.request('/buckets/bkt/objects/big', {
      headers: { range: 'bytes=5-9' },
    });
    expect(small.status).toBe(206);
    expect(small.headers.get('content-range')).toBe(`bytes 5-9/${big.length}`);
    expect(Buffer.from(await small.arrayBuffer()).equals(big.subarray(5, 10))).toBe(true);
  });

  it('answers an unsatisfiable range with 416 and Content-Range', async () => {
    const { app } = setup({ cluster: { 'bkt/k': Buffer.from('0123456789') } });
    const response = await app.request('/buckets/bkt/objects/k', {
      headers: { range: 'bytes=10-' },
    });
    expect(response.status).toBe(416);
    expect(response.headers.get('content-range')).toBe('bytes */10');
  });

  it('redirects from the backend without a flush when no seed peer answers', async () => {
    const peers = seedPeerList(2);
    const { app, log } = setup({
      peers,
      unreachable: ['seed-0', 'seed-1'],
      stored: { 'bkt/big': big },
    });
    expect((await app.request('/buckets/bkt/objects/big')).status).toBe(307);
    expect(log.filter((line) => !line.startsWith('contact'))).toEqual([
      'headObject',
      'presign GET bkt/big',
    ]);
  });

  it('answers a PUT above the limit with a 413 naming the limit and upload sessions', async () => {
    const { app, servedBy } = setup();
    const response = await app.request(
      '/buckets/bkt/objects/big',
      put(randomBytes(LIMIT + 200 * 1024)),
    );
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      errors:
        'object larger than the 4 MiB inline limit of this endpoint: use an upload session (the dfstore CLI does this by itself)',
      code: 'ERR_PAYLOAD_TOO_LARGE',
    });
    expect(servedBy('putObject')).toEqual([]);
  });

  it('counts the file bytes, not the form: one byte over the limit is a 413', async () => {
    const { app } = setup();
    expect((await app.request('/buckets/bkt/objects/k', put(randomBytes(LIMIT)))).status).toBe(200);
    expect((await app.request('/buckets/bkt/objects/k', put(randomBytes(LIMIT + 1)))).status).toBe(
      413,
    );
  });

  it('reports the inline limit in GET /metadata', async () => {
    const { app } = setup();
    expect(await (await app.request('/metadata')).json()).toEqual({
      Name: 's3',
      Region: 'us-east-1',
      Endpoint: 'http://s3.test',
      inlineLimit: LIMIT,
    });
  });
});
