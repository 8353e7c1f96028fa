import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BackendConfig } from '../../../lib/config/backend-config.ts';
import { createManagerApp, type ManagerDeps } from '../../../lib/manager/create-manager-app.ts';
import { MembershipError } from '../../../lib/manager/errors.ts';
import type { SeedPeer } from '../../../lib/manager/membership/membership-source.ts';
import { createStaticMembership } from '../../../lib/manager/membership/static-membership.ts';
import { type TempFsBackend, tempFsBackend } from '../../helpers/temp-fs-backend.ts';

let fs: TempFsBackend;
beforeEach(async () => {
  fs = await tempFsBackend();
});
afterEach(() => fs.remove());

const seedPeer = (): SeedPeer => ({
  id: 'seed-1',
  hostname: 'seed-1',
  ip: '127.0.0.1',
  port: 65004,
  downloadPort: 65002,
  state: 'active',
});

function makeApp(overrides: Partial<ManagerDeps> = {}) {
  return createManagerApp({
    backend: () => fs.backend,
    backendConfig: () => ({ name: 'fs', root: fs.root }),
    membership: createStaticMembership([seedPeer()]),
    peerConfig: { filter: 'Expires&Signature', maxReplicas: 3, refreshInterval: 600 },
    ...overrides,
  });
}

const postJson = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('manager app', () => {
  it('answers /healthy', async () => {
    const res = await makeApp().request('/healthy');
    expect(res.status).toBe(200);
    expect(await res.json()).toBe('OK');
  });

  it('serves the fs backend as Dragonfly object storage config', async () => {
    const res = await makeApp().request('/api/v1/object-storage');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      name: 'fs',
      region: 'local',
      endpoint: fs.backend.endpoint,
      s3ForcePathStyle: false,
    });
  });

  it('never serves S3 or OSS keys, nor the fs presign secret', async () => {
    const configs: BackendConfig[] = [
      {
        name: 's3',
        region: 'eu-west-1',
        endpoint: 'http://127.0.0.1:7480',
        forcePathStyle: true,
        accessKeyId: 'AKIASECRETID',
        secretAccessKey: 's3-secret-value',
        sessionToken: 'session-secret',
        multipartThreshold: 16 << 20,
        partSize: 6 << 20,
        queueSize: 3,
        requestTimeoutMs: 60_000,
      },
      {
        name: 'oss',
        region: 'oss-cn-hangzhou',
        endpoint: 'https://oss-cn-hangzhou.aliyuncs.com',
        accessKeyId: 'LTAIOSSID',
        accessKeySecret: 'oss-secret-value',
        securityToken: 'oss-token',
        sldEnable: false,
        multipartThreshold: 16 << 20,
        partSize: 6 << 20,
        parallel: 3,
        timeoutMs: 120_000,
      },
      {
        name: 'fs',
        root: fs.root,
        presign: { baseUrl: 'http://127.0.0.1:1', secret: 'fs-presign-secret-value' },
      },
    ];
    const bodies = await Promise.all(
      configs.map(async (config) => {
        const res = await makeApp({ backendConfig: () => config }).request(
          '/api/v1/object-storage',
        );
        return { status: res.status, text: await res.text() };
      }),
    );
    expect(bodies.map((b) => b.status)).toEqual([200, 200, 200]);
    expect(JSON.parse(bodies[0]?.text ?? '')).toEqual({
      name: 's3',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:7480',
      s3ForcePathStyle: true,
    });
    expect(Object.keys(JSON.parse(bodies[1]?.text ?? '')).sort()).toEqual([
      'endpoint',
      'name',
      'region',
      's3ForcePathStyle',
    ]);
    for (const { text } of bodies) {
      expect(text).not.toMatch(/SECRET|secret|token|LTAI|AKIA|accessKey/);
    }
  });

  it('creates, lists, gets and deletes buckets on the backend', async () => {
    const app = makeApp();
    expect(await (await app.request('/api/v1/buckets')).json()).toEqual([]);

    const created = await app.request('/api/v1/buckets', postJson({ name: 'models' }));
    expect(created.status).toBe(200);
    expect(await fs.backend.bucketExists('models')).toBe(true);

    const list = await app.request('/api/v1/buckets');
    expect(list.status).toBe(200);
    const buckets = (await list.json()) as { Name: string; CreateAt: string }[];
    expect(buckets.map((b) => b.Name)).toEqual(['models']);
    expect(Number.isNaN(Date.parse(buckets[0]?.CreateAt ?? ''))).toBe(false);

    const one = await app.request('/api/v1/buckets/models');
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ Name: 'models' });

    const deleted = await app.request('/api/v1/buckets/models', { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(await fs.backend.bucketExists('models')).toBe(false);
  });

  it('answers 404 with a JSON error for a missing bucket', async () => {
    const app = makeApp();
    for (const method of ['GET', 'DELETE']) {
      const res = await app.request('/api/v1/buckets/absent', { method });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({
        errors: 'bucket absent not found',
        code: 'ERR_BUCKET_NOT_FOUND',
      });
    }
  });

  it('answers 409 when deleting a bucket that still holds objects', async () => {
    await fs.backend.createBucket('models');
    await fs.backend.putObject('models', 'weights.bin', Readable.from([Buffer.from('x')]));
    const res = await makeApp().request('/api/v1/buckets/models', { method: 'DELETE' });
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({
      errors: 'bucket models is not empty',
      code: 'ERR_CONFLICT',
    });
  });

  it.each([
    ['a bad name', { name: 'Bad_Name' }],
    ['a missing name', {}],
    ['a non-string name', { name: 7 }],
    ['a non-object body', ['models']],
    ['invalid JSON', '{"name":'],
  ])('answers 422 to a POST with %s', async (_, body) => {
    const res = await makeApp().request('/api/v1/buckets', postJson(body));
    expect(res.status).toBe(422);
    const error = (await res.json()) as { errors: string; code: string };
    expect(error.code).toBe('ERR_INVALID_ARGUMENT');
    expect(error.errors).toEqual(expect.any(String));
  });

  it('answers 422 to a bad bucket id', async () => {
    const res = await makeApp().request('/api/v1/buckets/UPPER');
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('serves the live seed-peer list', async () => {
    const res = await makeApp().request('/api/v1/seed-peers');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([seedPeer()]);
  });

  it('answers 503 with a generic message when membership cannot be read', async () => {
    const logged: unknown[] = [];
    const app = makeApp({
      membership: {
        list: () => Promise.reject(new MembershipError('Cloud Map failed: AccessDenied')),
      },
      logger: { error: (object) => logged.push(object) },
    });
    const res = await app.request('/api/v1/seed-peers');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ errors: 'Internal Server Error', code: 'ERR_MEMBERSHIP' });
    expect(logged).toHaveLength(1);
  });

  it('serves the peer config', async () => {
    const res = await makeApp().request('/api/v1/peer-config');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      filter: 'Expires&Signature',
      maxReplicas: 3,
      refreshInterval: 600,
    });
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await makeApp().request('/api/v1/schedulers');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ errors: 'Not Found', code: 'ERR_ROUTE_NOT_FOUND' });
  });
});
