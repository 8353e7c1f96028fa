import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDfstoreClient, type DfstoreClient } from '../../lib/client/dfstore-client.ts';
import { type FunctionHost, startFunctionHost } from '../../lib/local/function-host.ts';
import type { FunctionUrlHandler } from '../../lib/local/function-url.ts';
import { type Cluster, startCluster } from '../helpers/cluster.ts';
import {
  clientOf,
  closeClients,
  directS3,
  holds,
  randomObject,
  s3BackendAt,
  taskIdOf,
} from '../helpers/cluster-probes.ts';
import { type CountingProxy, startCountingProxy } from '../helpers/counting-proxy.ts';
import '../helpers/provided-context.ts';

// The object API function (functions/objects.ts) served by the local function host the way a
// function URL serves it, with its environment pointing at the shared RGW and one real
// seed-peer daemon (plus the manager that lists it to itself). The seed peer reaches the RGW
// through a proxy that a test pauses (a backend outage only the cluster sees).
const MiB = 1024 * 1024;
const TOKEN = `test-token-${randomBytes(12).toString('hex')}`;
const s3 = inject('s3');
const bucket = `objects-fn-${randomBytes(4).toString('hex')}`;

let cluster: Cluster;
let proxy: CountingProxy;
let host: FunctionHost;
let api: DfstoreClient;
const s3direct = directS3(s3);

const seedPeer = () => {
  const node = cluster.seedPeers[0];
  if (!node) throw new Error('no seed peer');
  return node;
};

beforeAll(async () => {
  const rgw = new URL(s3.endpoint);
  proxy = await startCountingProxy(rgw.hostname, Number(rgw.port));
  cluster = await startCluster({
    name: 'objects-fn',
    backend: s3BackendAt(s3, proxy.url),
    seedPeers: 1,
    peers: 0,
  });
  const node = seedPeer();
  const port = (url: string) => Number(new URL(url).port);
  Object.assign(process.env, {
    DFSTORE_BACKEND: JSON.stringify(s3BackendAt(s3, s3.endpoint)),
    DFSTORE_API_TOKEN: TOKEN,
    DFSTORE_SEED_PEERS: JSON.stringify([
      {
        id: node.id,
        hostname: node.id,
        ip: '127.0.0.1',
        port: port(node.api),
        downloadPort: port(node.pieces),
      },
    ]),
    DFSTORE_LOG_LEVEL: 'warn',
  });
  const { handler } = (await import('../../functions/objects.ts')) as {
    handler: FunctionUrlHandler;
  };
  host = await startFunctionHost({ handler, port: 0, name: 'dfstore-objects' });
  const url = new URL(host.url);
  api = createDfstoreClient({ endpoint: `http://dfstore:${TOKEN}@${url.host}` });
  await api.createBucket(bucket);
});

afterAll(async () => {
  await api?.destroy();
  await host?.close();
  await closeClients();
  await cluster?.dispose();
  await proxy?.close();
  s3direct.close();
});

const authorized = { authorization: `Bearer ${TOKEN}` };
const objectUrl = (key: string) => `${host.url}/buckets/${bucket}/objects/${key}`;
const sha256 = (data: Buffer | Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Runs `node bin/dfstore.js …args` (the project's CLI) and collects its exit code and stderr. */
function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/dfstore.js', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('objects function: authentication', () => {
  it('answers no token and a wrong token with the same 401 and a Basic challenge', async () => {
    const none = await fetch(objectUrl('any'));
    const wrong = await fetch(objectUrl('any'), { headers: { authorization: 'Bearer wrong' } });
    for (const response of [none, wrong]) {
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Basic realm="dfstore"');
      expect(await response.json()).toEqual({
        errors: 'missing or invalid credentials',
        code: 'ERR_UNAUTHORIZED',
      });
    }
  });

  it('takes Basic dfstore:TOKEN (the Go CLI’s endpoint userinfo) and Bearer', async () => {
    const basic = `Basic ${Buffer.from(`dfstore:${TOKEN}`).toString('base64')}`;
    expect(
      (await fetch(`${host.url}/metadata`, { headers: { authorization: basic } })).status,
    ).toBe(200);
    expect((await fetch(`${host.url}/metadata`, { headers: authorized })).status).toBe(200);
  });

  it('leaves /healthy open and reports the inline limit in /metadata', async () => {
    expect((await fetch(`${host.url}/healthy`)).status).toBe(200);
    const metadata = await (await fetch(`${host.url}/metadata`, { headers: authorized })).json();
    expect(metadata).toMatchObject({ Name: 's3', inlineLimit: 4 * MiB });
  });
});

describe('objects function: small objects pass through to the seed peer', () => {
  it('PUTs and GETs a small object; the seed peer holds it and the backend has it', async () => {
    const object = randomObject(256 * 1024);
    await api.putObject(bucket, 'small/one.bin', Readable.from([object.data]), { mode: 1 });
    expect(await holds(seedPeer(), taskIdOf(bucket, 'small/one.bin', object))).toBe(true);
    const head = await s3direct.client.send(
      new HeadObjectCommand({ Bucket: bucket, Key: 'small/one.bin' }),
    );
    expect(head.Metadata?.digest).toBe(object.digest);
    const got = await fetch(objectUrl('small/one.bin'), { headers: authorized });
    expect(got.status).toBe(200);
    expect(sha256(new Uint8Array(await got.arrayBuffer()))).toBe(object.sha256);
    const range = await fetch(objectUrl('small/one.bin'), {
      headers: { ...authorized, range: 'bytes=10-19' },
    });
    expect(range.status).toBe(206);
    expect(Buffer.from(await range.arrayBuffer()).equals(object.data.subarray(10, 20))).toBe(true);
  });

  it('answers a PUT over the inline limit with the 413 that names it', async () => {
    const error = await api
      .putObject(bucket, 'too/big.bin', Readable.from([randomBytes(4 * MiB + 1)]), {
        contentLength: 4 * MiB + 1,
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      status: 413,
      serverMessage:
        'object larger than the 4 MiB inline limit of this endpoint: use an upload session (the dfstore CLI does this by itself)',
    });
  });
});

describe('objects function: large objects go around it', () => {
  it('redirects a 10 MiB GET to a presigned URL that serves the right bytes', async () => {
    const object = randomObject(10 * MiB);
    await clientOf(seedPeer()).putObject(bucket, 'large/ten.bin', Readable.from([object.data]), {
      mode: 1,
    });
    const redirect = await fetch(objectUrl('large/ten.bin'), {
      headers: authorized,
      redirect: 'manual',
    });
    expect(redirect.status).toBe(307);
    const location = redirect.headers.get('location') ?? '';
    expect(location.startsWith(s3.endpoint)).toBe(true);
    const followed = await fetch(location);
    expect(followed.status).toBe(200);
    expect(sha256(new Uint8Array(await followed.arrayBuffer()))).toBe(object.sha256);
    const ranged = await fetch(location, { headers: { range: 'bytes=5-9' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(object.data.subarray(5, 10))).toBe(true);
    // The dfstore client follows the redirect on its own (Authorization stays behind).
    const viaClient = await api.getObject(bucket, 'large/ten.bin');
    const chunks: Buffer[] = [];
    for await (const chunk of viaClient.body) chunks.push(chunk as Buffer);
    expect(sha256(Buffer.concat(chunks))).toBe(object.sha256);
  });

  it('flushes a version still pending in the seed peer’s journal before redirecting', async () => {
    const first = randomObject(5 * MiB);
    const second = randomObject(5 * MiB);
    const writer = clientOf(seedPeer());
    await writer.putObject(bucket, 'large/pending.bin', Readable.from([first.data]), { mode: 1 });
    // The backend is out for the seed peer: the mode-0 write is acked from its journal, and its
    // write-back can land only once the outage ends, a few seconds into the GET below.
    await proxy.pause();
    try {
      await writer.putObject(bucket, 'large/pending.bin', Readable.from([second.data]), {
        mode: 0,
      });
    } finally {
      setTimeout(() => void proxy.resume(), 2_000);
    }
    const redirect = await fetch(objectUrl('large/pending.bin'), {
      headers: authorized,
      redirect: 'manual',
    });
    expect(redirect.status).toBe(307);
    const followed = await fetch(redirect.headers.get('location') ?? '');
    expect(sha256(new Uint8Array(await followed.arrayBuffer()))).toBe(second.sha256);
  });

  it('writes 10 MiB through an upload session; the seed peer imports it afterwards', async () => {
    const object = randomObject(10 * MiB);
    const key = 'session/ten.bin';
    const created = await fetch(`${host.url}/buckets/${bucket}/uploads`, {
      method: 'POST',
      headers: { ...authorized, 'content-type': 'application/json' },
      body: JSON.stringify({ key, contentLength: object.data.length, digest: object.digest }),
    });
    expect(created.status).toBe(200);
    const session = (await created.json()) as {
      uploadId: string;
      partSize: number;
      parts: { partNumber: number; url: string }[];
    };
    expect(session.parts).toHaveLength(2);
    const parts = [];
    for (const part of session.parts) {
      const start = (part.partNumber - 1) * session.partSize;
      const body = object.data.subarray(start, start + session.partSize);
      const uploaded = await fetch(part.url, { method: 'PUT', body });
      expect(uploaded.status, await uploaded.text()).toBe(200);
      parts.push({ partNumber: part.partNumber, etag: uploaded.headers.get('etag') ?? '' });
    }
    const completed = await fetch(
      `${host.url}/buckets/${bucket}/uploads/${session.uploadId}/complete`,
      {
        method: 'POST',
        headers: { ...authorized, 'content-type': 'application/json' },
        body: JSON.stringify({ key, parts }),
      },
    );
    expect(completed.status).toBe(200);
    expect(await completed.json()).toMatchObject({ etag: expect.stringMatching(/^"/) });

    const head = await s3direct.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(object.data.length);
    expect(head.Metadata?.digest).toBe(object.digest);
    const taskId = taskIdOf(bucket, key, object);
    await waitFor(() => holds(seedPeer(), taskId), `the seed peer to import ${taskId}`);
  });

  it('the dfstore CLI uploads 10 MiB through a session by itself, and reads it back', async () => {
    const object = randomObject(10 * MiB);
    const key = 'cli/ten.bin';
    const dir = await mkdtemp(join(tmpdir(), 'dfstore-fn-cli-'));
    try {
      const source = join(dir, 'ten.bin');
      await writeFile(source, object.data);
      const endpoint = `http://dfstore:${TOKEN}@${new URL(host.url).host}`;
      const up = await runCli(['cp', '-m', '1', source, `dfs://${bucket}/${key}`, '-e', endpoint]);
      expect(up.code, up.stderr).toBe(0);
      const head = await s3direct.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head.Metadata?.digest).toBe(object.digest);
      // Replicated: the owner seed peer imports the version the session completed.
      await waitFor(() => holds(seedPeer(), taskIdOf(bucket, key, object)), 'the import');
      const target = join(dir, 'back.bin');
      const down = await runCli(['cp', `dfs://${bucket}/${key}`, target, '-e', endpoint]);
      expect(down.code, down.stderr).toBe(0);
      expect(sha256(await readFile(target))).toBe(object.sha256);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects a session whose part list is wrong and leaves no object', async () => {
    const object = randomObject(6 * MiB);
    const key = 'session/bad-parts.bin';
    const created = await fetch(`${host.url}/buckets/${bucket}/uploads`, {
      method: 'POST',
      headers: { ...authorized, 'content-type': 'application/json' },
      body: JSON.stringify({ key, contentLength: object.data.length, digest: object.digest }),
    });
    const session = (await created.json()) as { uploadId: string };
    const completed = await fetch(
      `${host.url}/buckets/${bucket}/uploads/${session.uploadId}/complete`,
      {
        method: 'POST',
        headers: { ...authorized, 'content-type': 'application/json' },
        body: JSON.stringify({ key, parts: [{ partNumber: 1, etag: '"nope"' }] }),
      },
    );
    expect(completed.status).toBe(422);
    expect(await api.objectExists(bucket, key)).toBe(false);
    const aborted = await fetch(
      `${host.url}/buckets/${bucket}/uploads/${session.uploadId}?key=${encodeURIComponent(key)}`,
      { method: 'DELETE', headers: authorized },
    );
    expect(aborted.status).toBe(200);
  });
});
