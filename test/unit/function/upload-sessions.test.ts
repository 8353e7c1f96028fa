import { describe, expect, it } from 'vitest';
import type { ObjectService } from '../../../lib/api/object-service.ts';
import {
  type CompletedPart,
  type ObjectBackend,
  UploadNotFoundError,
} from '../../../lib/backends/object-backend.ts';
import { ValidationError } from '../../../lib/core/errors.ts';
import { createObjectsFunctionApp } from '../../../lib/function/app.ts';
import { decodeUploadId } from '../../../lib/function/upload-id.ts';
import { choosePartSize, createUploadSessions } from '../../../lib/function/upload-sessions.ts';
import { rankSeedPeers } from '../../../lib/peer/placement.ts';
import { taskIdForDigest } from '../../../lib/peer/task-ids.ts';
import { directoryOf, MiB, metadataOf, seedPeerList, silentLogger } from './fakes.ts';

const DIGEST = `md5:${'ab'.repeat(16)}`;
const FILTER = 'Expires&Signature';

/** A backend's multipart calls, with the completed object's size scripted by the parts. */
function multipartBackend(options: { completedSize?: (parts: number) => number } = {}) {
  const log: string[] = [];
  const uploads = new Map<string, { key: string; digest?: string }>();
  let completedSize = 0;
  const backend = {
    name: 's3',
    async createMultipartUpload(bucket: string, key: string, opts: { digest?: string } = {}) {
      log.push(`create ${bucket}/${key} ${opts.digest}`);
      uploads.set('up-1', { key, digest: opts.digest });
      return { uploadId: 'up-1' };
    },
    async presignUploadPart(
      bucket: string,
      key: string,
      uploadId: string,
      partNumber: number,
      opts: { expiresInSeconds: number },
    ) {
      return `http://s3.test/${bucket}/${key}?uploadId=${uploadId}&partNumber=${partNumber}&X-Amz-Expires=${opts.expiresInSeconds}`;
    },
    async completeMultipartUpload(
      bucket: string,
      key: string,
      uploadId: string,
      parts: readonly CompletedPart[],
    ) {
      log.push(`complete ${bucket}/${key} ${uploadId} ${parts.length}`);
      if (!uploads.has(uploadId) || uploads.get(uploadId)?.key !== key) {
        throw new UploadNotFoundError(uploadId);
      }
      completedSize = options.completedSize?.(parts.length) ?? 0;
      return { etag: '"multi-2"' };
    },
    async headObject(_bucket: string, key: string) {
      return { ...metadataOf(key, completedSize), digest: DIGEST, etag: '"multi-2"' };
    },
    async deleteObject(bucket: string, key: string) {
      log.push(`delete ${bucket}/${key}`);
    },
    async abortMultipartUpload(bucket: string, key: string, uploadId: string) {
      log.push(`abort ${bucket}/${key} ${uploadId}`);
    },
  };
  return { backend: backend as unknown as ObjectBackend, log };
}

function setup(options: { completedSize?: (parts: number) => number } = {}) {
  const { backend, log } = multipartBackend(options);
  const peers = seedPeerList(4);
  const p2p = {
    async keyChanged(pieces: string, change: { current?: unknown; forward?: boolean }) {
      log.push(
        `keyChanged ${pieces} current=${change.current !== undefined} forward=${change.forward}`,
      );
      return { evicted: 0, forwarded: 0, failed: 0 };
    },
    async importTask(pieces: string, taskId: string, request: { version: string }) {
      log.push(`import ${pieces} ${taskId} ${request.version}`);
    },
  };
  const sessions = createUploadSessions({
    backend,
    seedPeers: directoryOf(peers),
    p2p,
    filter: FILTER,
    defaultMaxReplicas: 2,
    partUrlTtlSeconds: 3600,
    logger: silentLogger,
    now: () => Date.parse('2025-06-01T00:00:00Z'),
  });
  const app = createObjectsFunctionApp({
    service: {} as ObjectService,
    uploads: sessions,
    inlineLimit: 4 * MiB,
    auth: { mode: 'iam' },
  });
  const post = (path: string, body: unknown) =>
    app.request(path, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
  return { app, post, log, peers, sessions };
}

const create = { key: 'data/big.bin', contentLength: 10 * MiB + 1, digest: DIGEST };

describe('choosePartSize', () => {
  it.each([
    [1, 5 * MiB],
    [10 * MiB, 5 * MiB],
    [5000 * MiB, 5 * MiB],
    [50 * 1024 * MiB, 52 * MiB],
    [5 * 1024 ** 4, 5 * 1024 * MiB],
  ])('%i bytes → parts of %i bytes, at most 10000 of them', (size, partSize) => {
    expect(choosePartSize(size)).toBe(partSize);
    expect(Math.ceil(size / partSize)).toBeLessThanOrEqual(10_000);
  });
});

describe('upload sessions', () => {
  it('creates a session: presigned part URLs covering the object, the digest on the upload', async () => {
    const { post, log } = setup();
    const response = await post('/buckets/bkt/uploads', create);
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      uploadId: string;
      partSize: number;
      parts: { partNumber: number; url: string }[];
      expiresAt: string;
    };
    expect(body.partSize).toBe(5 * MiB);
    expect(body.parts.map((part) => part.partNumber)).toEqual([1, 2, 3]);
    expect(body.parts[2]?.url).toContain('partNumber=3');
    expect(body.expiresAt).toBe('2025-06-01T01:00:00.000Z');
    expect(log).toEqual([`create bkt/data/big.bin ${DIGEST}`]);
    expect(decodeUploadId(body.uploadId)).toEqual({
      backendUploadId: 'up-1',
      contentLength: create.contentLength,
      partSize: 5 * MiB,
      maxReplicas: 2,
    });
  });

  it.each([
    ['a digest that is not md5', { ...create, digest: `sha256:${'0'.repeat(64)}` }],
    ['a malformed digest', { ...create, digest: 'md5:xyz' }],
    ['no digest', { key: 'k', contentLength: 10 }],
    ['an empty object', { ...create, contentLength: 0 }],
    ['a fractional length', { ...create, contentLength: 1.5 }],
    ['over 5 TiB', { ...create, contentLength: 5 * 1024 ** 4 + 1 }],
    ['a `..` key', { ...create, key: 'a/../b' }],
    ['mode 7', { ...create, mode: 7 }],
    ['maxReplicas 101', { ...create, maxReplicas: 101 }],
    ['an unknown field', { ...create, extra: true }],
    ['mode 2 (nothing to hold it but the backend)', { ...create, mode: 2 }],
  ])('rejects %s with 422 and creates nothing', async (_, body) => {
    const { post, log } = setup();
    const response = await post('/buckets/bkt/uploads', body);
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(log).toEqual([]);
  });

  it('completes: the cluster drops older versions first, then the owners import the new one', async () => {
    const { post, log, peers } = setup({ completedSize: () => create.contentLength });
    const { uploadId } = (await (await post('/buckets/bkt/uploads', create)).json()) as {
      uploadId: string;
    };
    log.length = 0;
    const parts = [1, 2, 3].map((partNumber) => ({ partNumber, etag: `"e${partNumber}"` }));
    const response = await post(`/buckets/bkt/uploads/${uploadId}/complete`, {
      key: create.key,
      parts,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ etag: '"multi-2"' });
    const taskId = taskIdForDigest('s3', 'bkt', create.key, DIGEST, FILTER);
    const owners = rankSeedPeers(taskId, peers).slice(0, 2);
    expect(log).toEqual([
      'complete bkt/data/big.bin up-1 3',
      ...peers.map((p) => `keyChanged http://${p.ip}:65002 current=false forward=true`),
      ...owners.map((p) => `import http://${p.ip}:65002 ${taskId} ${DIGEST}`),
    ]);
  });

  it.each([
    ['a missing part', [1, 2]],
    ['an extra part', [1, 2, 3, 4]],
    ['parts out of order', [1, 3, 2]],
    ['a repeated part', [1, 2, 2]],
  ])('rejects %s with 422 before completing', async (_, numbers) => {
    const { post, log } = setup({ completedSize: () => create.contentLength });
    const { uploadId } = (await (await post('/buckets/bkt/uploads', create)).json()) as {
      uploadId: string;
    };
    log.length = 0;
    const parts = numbers.map((partNumber) => ({ partNumber, etag: '"e"' }));
    const response = await post(`/buckets/bkt/uploads/${uploadId}/complete`, {
      key: create.key,
      parts,
    });
    expect(response.status).toBe(422);
    expect(log).toEqual([]);
  });

  it('removes an object whose parts do not add up to the declared size', async () => {
    const { post, log } = setup({ completedSize: () => create.contentLength - 1 });
    const { uploadId } = (await (await post('/buckets/bkt/uploads', create)).json()) as {
      uploadId: string;
    };
    const parts = [1, 2, 3].map((partNumber) => ({ partNumber, etag: '"e"' }));
    const response = await post(`/buckets/bkt/uploads/${uploadId}/complete`, {
      key: create.key,
      parts,
    });
    expect(response.status).toBe(422);
    expect(log).toContain('delete bkt/data/big.bin');
    expect(log.some((line) => line.startsWith('import'))).toBe(false);
  });

  it('answers 404 for a session of another key, and 422 for an upload ID it did not make', async () => {
    const { post } = setup();
    const { uploadId } = (await (await post('/buckets/bkt/uploads', create)).json()) as {
      uploadId: string;
    };
    const parts = [1, 2, 3].map((partNumber) => ({ partNumber, etag: '"e"' }));
    const other = await post(`/buckets/bkt/uploads/${uploadId}/complete`, { key: 'other', parts });
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ code: 'ERR_UPLOAD_NOT_FOUND' });
    const forged = await post('/buckets/bkt/uploads/not-ours/complete', { key: 'k', parts });
    expect(forged.status).toBe(422);
  });

  it('aborts through DELETE with the key in the query', async () => {
    const { app, post, log } = setup();
    const { uploadId } = (await (await post('/buckets/bkt/uploads', create)).json()) as {
      uploadId: string;
    };
    const response = await app.request(
      `/buckets/bkt/uploads/${uploadId}?key=${encodeURIComponent(create.key)}`,
      { method: 'DELETE' },
    );
    expect(response.status).toBe(200);
    expect(log).toContain('abort bkt/data/big.bin up-1');
    const noKey = await app.request(`/buckets/bkt/uploads/${uploadId}`, { method: 'DELETE' });
    expect(noKey.status).toBe(422);
  });

  it('rejects a body that is not JSON', async () => {
    const { app } = setup();
    const response = await app.request('/buckets/bkt/uploads', { method: 'POST', body: 'key=k' });
    expect(response.status).toBe(422);
  });

  it('throws ValidationError from the service too (not only at the route)', async () => {
    const { sessions } = setup();
    await expect(sessions.create('bkt', { ...create, mode: 2 })).rejects.toThrow(ValidationError);
  });
});
