import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createManagerClient,
  type FetchLike,
  type ManagerClient,
  type ManagerClientOptions,
} from '../../../lib/peer/manager-client.ts';
import {
  M1,
  M2,
  makeManager,
  type Route,
  recordingLogger,
  routed,
  seedPeer,
} from '../../helpers/manager-fixture.ts';
import { type TempFsBackend, tempFsBackend } from '../../helpers/temp-fs-backend.ts';

let fs: TempFsBackend;
let client: ManagerClient | undefined;
beforeEach(async () => {
  fs = await tempFsBackend();
});
afterEach(async () => {
  client?.close();
  client = undefined;
  vi.useRealTimers();
  await fs.remove();
});

function makeClient(options: Partial<ManagerClientOptions> & { fetch: FetchLike }) {
  client = createManagerClient({ netAddrs: [M1, M2], clock: { now: () => 1_000 }, ...options });
  return client;
}

describe('manager client', () => {
  it('maps the first answering manager into a snapshot', async () => {
    const { app } = makeManager(fs);
    const { fetch, calls } = routed({ [M1]: (url, init) => app.request(url.href, init) });
    const c = makeClient({ fetch });
    expect(c.snapshot()).toBeUndefined();

    const snapshot = await c.start();

    expect(snapshot).toEqual({
      seedPeers: [
        {
          id: 'seed-1',
          objectApi: 'http://10.0.1.1:65004',
          pieces: 'http://10.0.1.1:65002',
          hostname: 'seed-1',
        },
        {
          id: 'seed-2',
          objectApi: 'http://10.0.1.2:65004',
          pieces: 'http://10.0.1.2:65002',
          hostname: 'seed-2',
        },
      ],
      peerConfig: { filter: 'Expires&Signature', maxReplicas: 3, refreshIntervalMs: 60_000 },
      objectStorage: {
        name: 'fs',
        region: 'local',
        endpoint: fs.backend.endpoint,
        s3ForcePathStyle: false,
      },
      fetchedAt: 1_000,
    });
    expect(c.snapshot()).toBe(snapshot);
    expect(calls.map((u) => new URL(u).pathname).sort()).toEqual([
      '/api/v1/object-storage',
      '/api/v1/peer-config',
      '/api/v1/seed-peers',
    ]);
  });

  it('fails over to the next manager, in order', async () => {
    const { app } = makeManager(fs);
    const { fetch, calls } = routed({ [M2]: (url, init) => app.request(url.href, init) });
    const c = makeClient({ fetch });

    const snapshot = await c.start();

    expect(snapshot?.seedPeers.map((p) => p.id)).toEqual(['seed-1', 'seed-2']);
    expect(new Set(calls.map((u) => new URL(u).origin))).toEqual(new Set([M1, M2]));
  });

  it('keeps the last good snapshot while every manager is down, warning once per outage', async () => {
    const { app } = makeManager(fs);
    let up = true;
    const serve: Route = (url, init) => {
      if (!up) throw new TypeError('fetch failed');
      return app.request(url.href, init);
    };
    const { logger, warnings } = recordingLogger();
    const c = makeClient({ fetch: routed({ [M1]: serve, [M2]: serve }).fetch, logger });
    const good = await c.start();

    up = false;
    await c.refreshNow();
    await c.refreshNow();
    await c.refreshNow();

    expect(c.snapshot()).toBe(good);
    expect(warnings()).toHaveLength(1);
    expect(JSON.stringify(warnings()[0]?.obj)).toContain(M2);

    up = true;
    await c.refreshNow();
    up = false;
    await c.refreshNow();
    expect(warnings()).toHaveLength(2);
  });

  it('resolves start() with undefined when no manager answers', async () => {
    const { logger, warnings } = recordingLogger();
    const c = makeClient({ fetch: routed({}).fetch, logger });
    expect(await c.start()).toBeUndefined();
    expect(c.snapshot()).toBeUndefined();
    expect(warnings()).toHaveLength(1);
  });

  it('calls onChange on the first success and on each change, not on equal refreshes', async () => {
    const { app, state } = makeManager(fs);
    const c = makeClient({ fetch: routed({ [M1]: (u, i) => app.request(u.href, i) }).fetch });
    const seen: { peers: string[]; previous?: string[] }[] = [];
    c.onChange((snapshot, previous) =>
      seen.push({
        peers: snapshot.seedPeers.map((p) => p.id),
        previous: previous?.seedPeers.map((p) => p.id).sort(),
      }),
    );

    await c.start();
    await c.refreshNow();
    state.peers = [seedPeer(2), seedPeer(1)]; // Same set, other order: no change.
    await c.refreshNow();
    state.peers = [seedPeer(1), seedPeer(3)];
    await c.refreshNow();
    state.peerConfig = { ...state.peerConfig, maxReplicas: 2 };
    await c.refreshNow();
    state.backendConfig = {
      name: 's3',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:7480',
      forcePathStyle: true,
      multipartThreshold: 16 << 20,
      partSize: 6 << 20,
      queueSize: 3,
      requestTimeoutMs: 60_000,
    };
    const last = await c.refreshNow();

    expect(seen).toEqual([
      { peers: ['seed-1', 'seed-2'], previous: undefined },
      { peers: ['seed-1', 'seed-3'], previous: ['seed-1', 'seed-2'] },
      { peers: ['seed-1', 'seed-3'], previous: ['seed-1', 'seed-3'] },
      { peers: ['seed-1', 'seed-3'], previous: ['seed-1', 'seed-3'] },
    ]);
    expect(last?.peerConfig.maxReplicas).toBe(2);
    expect(last?.objectStorage).toEqual({
      name: 's3',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:7480',
      s3ForcePathStyle: true,
    });
  });

  it('drops a refresh in flight at close(): no snapshot, no onChange', async () => {
    const { app } = makeManager(fs);
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow: Route = async (url, init) => {
      await held;
      return app.request(url.href, init);
    };
    const c = makeClient({ fetch: routed({ [M1]: slow }).fetch });
    const changes: unknown[] = [];
    c.onChange((snapshot) => changes.push(snapshot));

    const started = c.start();
    c.close();
    release();

    expect(await started).toBeUndefined();
    expect(c.snapshot()).toBeUndefined();
    expect(changes).toEqual([]);
  });

  it('coalesces concurrent refreshes into one round of requests', async () => {
    const { app } = makeManager(fs);
    const { fetch, calls } = routed({ [M1]: (u, i) => app.request(u.href, i) });
    const c = makeClient({ fetch });

    const [a, b] = [c.refreshNow(), c.refreshNow()];

    expect(a).toBe(b);
    await a;
    expect(calls).toHaveLength(3);
  });

  it.each([
    ['a wrong type', '/api/v1/peer-config', { filter: '', maxReplicas: '3', refreshInterval: 60 }],
    ['a missing field', '/api/v1/object-storage', { name: 's3', region: 'x', endpoint: 'y' }],
    ['a bad port', '/api/v1/seed-peers', [{ ...seedPeer(1), port: 0 }]],
    ['not JSON', '/api/v1/seed-peers', '<html>'],
  ])('treats %s as a failed manager and keeps the last good snapshot', async (_, path, body) => {
    const { app } = makeManager(fs);
    let broken = false;
    const maybeBroken: Route = (url, init) =>
      broken && url.pathname === path
        ? new Response(typeof body === 'string' ? body : JSON.stringify(body))
        : app.request(url.href, init);
    const { logger, warnings } = recordingLogger();
    const c = makeClient({ fetch: routed({ [M1]: maybeBroken, [M2]: maybeBroken }).fetch, logger });
    const good = await c.start();

    broken = true;
    await c.refreshNow();

    expect(c.snapshot()).toBe(good);
    expect(warnings()).toHaveLength(1);
    expect(JSON.stringify(warnings()[0]?.obj)).toContain(path);
  });

  it('fails over when the first manager answers with an error status', async () => {
    const { app } = makeManager(fs);
    const { fetch } = routed({
      [M1]: () => new Response('{"errors":"Internal Server Error"}', { status: 503 }),
      [M2]: (u, i) => app.request(u.href, i),
    });
    expect((await makeClient({ fetch }).start())?.seedPeers).toHaveLength(2);
  });
});
