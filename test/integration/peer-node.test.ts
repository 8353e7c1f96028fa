import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApiApp } from '../../lib/api/create-app.ts';
import { createBackend } from '../../lib/backends/create-backend.ts';
import type { ObjectBackend } from '../../lib/backends/object-backend.ts';
import type { BackendConfigInput } from '../../lib/config/backend-config.ts';
import { openPeerNode, type PeerNode } from '../../lib/peer/peer-node.ts';
import { readAll } from '../helpers/streams.ts';
import '../helpers/provided-context.ts';

const md5 = (b: Buffer) => `md5:${createHash('md5').update(b).digest('hex')}`;

/** PUT the way the Go client does: fields mode, filter?, maxReplicas, then file. */
async function put(api: string, bucket: string, key: string, body: Buffer, mode = 0) {
  const form = new FormData();
  form.append('mode', String(mode));
  form.append('maxReplicas', '3');
  form.append('file', new Blob([body], { type: 'application/octet-stream' }), key.split('/').pop());
  const url = `${api}/buckets/${bucket}/objects/${key.split('/').map(encodeURIComponent).join('/')}`;
  return fetch(url, { method: 'PUT', body: form });
}

const objectUrl = (api: string, bucket: string, key: string) =>
  `${api}/buckets/${bucket}/objects/${key.split('/').map(encodeURIComponent).join('/')}`;

function describePeerNode(name: string, backendConfig: () => Promise<BackendConfigInput>) {
  describe(`peer node over ${name}`, () => {
    let dir: string;
    let node: PeerNode;
    let backend: ObjectBackend;
    let api: string;
    let close: () => Promise<void>;
    const bucket = `peer-${name}-${Date.now().toString(36)}`;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'dfstore-peer-node-'));
      backend = await createBackend(await backendConfig());
      await backend.createBucket(bucket);
      node = await openPeerNode({
        dataDir: join(dir, 'peer'),
        backend,
        filter: '',
        maxReplicas: 3,
      });
      const app = createApiApp({ service: node.service });
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
      await new Promise((resolve) => server.once('listening', resolve));
      api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      close = () => new Promise((resolve) => server.close(() => resolve()));
    });
    afterAll(async () => {
      await close?.();
      await node?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('mode 0: acks, serves the object at once, then writes it back with its digest', async () => {
      const body = Buffer.from('async write-back body');
      expect((await put(api, bucket, 'a/async.txt', body, 0)).status).toBe(200);
      const head = await fetch(objectUrl(api, bucket, 'a/async.txt'), { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('x-dragonfly-object-meta-digest')).toBe(md5(body));
      const got = await fetch(objectUrl(api, bucket, 'a/async.txt'));
      expect(Buffer.from(await got.arrayBuffer())).toEqual(body);
      await node.journal.flushKey(bucket, 'a/async.txt');
      const inBackend = await backend.getObject(bucket, 'a/async.txt');
      expect(inBackend.metadata.digest).toBe(md5(body));
      expect(await readAll(inBackend.body)).toEqual(body);
      expect(node.index.get(bucket, 'a/async.txt')?.state).toBe('durable');
    });

    it('mode 1: the backend has the object when the PUT returns', async () => {
      const body = Buffer.from('write-back body');
      expect((await put(api, bucket, 'sync.txt', body, 1)).status).toBe(200);
      const inBackend = await backend.headObject(bucket, 'sync.txt');
      expect(inBackend.digest).toBe(md5(body));
    });

    it('serves a backend object once from the source, then from the cache', async () => {
      const body = Buffer.alloc(3 * 1024 * 1024 + 7, 'z');
      await backend.putObject(bucket, 'cold.bin', Readable.from([body]), {
        contentLength: body.length,
        digest: md5(body),
      });
      expect(node.index.get(bucket, 'cold.bin')).toBeUndefined();
      const first = await fetch(objectUrl(api, bucket, 'cold.bin'));
      // Buffer.equals: toEqual on megabytes is slow (element-wise deep equality).
      expect(Buffer.from(await first.arrayBuffer()).equals(body)).toBe(true);
      await expect.poll(() => node.index.get(bucket, 'cold.bin')?.taskId).toBeTruthy();
      const taskId = node.index.get(bucket, 'cold.bin')?.taskId ?? '';
      expect(node.store.stat(taskId)?.complete).toBe(true);
      const ranged = await fetch(objectUrl(api, bucket, 'cold.bin'), {
        headers: { range: 'bytes=-7' },
      });
      expect(ranged.status).toBe(206);
      expect(ranged.headers.get('content-range')).toBe(
        `bytes ${body.length - 7}-${body.length - 1}/${body.length}`,
      );
      expect(Buffer.from(await ranged.arrayBuffer())).toEqual(body.subarray(-7));
    });

    it('copies, overwrites and deletes through cache and backend', async () => {
      await put(api, bucket, 'src.txt', Buffer.from('v1'), 0);
      const copy = new FormData();
      copy.append('source_object_key', 'src.txt');
      const copied = await fetch(objectUrl(api, bucket, 'dst.txt'), {
        method: 'PUT',
        headers: { 'X-Dragonfly-Object-Operation': 'copy' },
        body: copy,
      });
      expect(copied.status).toBe(200);
      expect(await (await fetch(objectUrl(api, bucket, 'dst.txt'))).text()).toBe('v1');
      expect((await backend.headObject(bucket, 'dst.txt')).contentLength).toBe(2);

      await put(api, bucket, 'src.txt', Buffer.from('version two'), 0);
      expect(await (await fetch(objectUrl(api, bucket, 'src.txt'))).text()).toBe('version two');

      expect((await fetch(objectUrl(api, bucket, 'src.txt'), { method: 'DELETE' })).status).toBe(
        200,
      );
      expect((await fetch(objectUrl(api, bucket, 'src.txt'), { method: 'HEAD' })).status).toBe(404);
      await expect(backend.headObject(bucket, 'src.txt')).rejects.toThrow();
      expect(await (await fetch(objectUrl(api, bucket, 'dst.txt'))).text()).toBe('v1');
    });
  });
}

describePeerNode('fs', async () => ({
  name: 'fs',
  root: await mkdtemp(join(tmpdir(), 'dfstore-peer-backend-')),
}));
describePeerNode('s3', async () => {
  const s3 = inject('s3');
  return { name: 's3', forcePathStyle: true, ...s3 };
});
