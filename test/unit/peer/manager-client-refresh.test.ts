import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createManagerClient,
  type FetchLike,
  type ManagerClient,
  type ManagerClientOptions,
} from '../../../lib/peer/manager-client.ts';
import { M1, M2, makeManager, routed } from '../../helpers/manager-fixture.ts';
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

describe('manager client refresh', () => {
  describe('timing', () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });
    const rounds = (calls: string[]) => calls.filter((u) => u.endsWith('/seed-peers')).length;

    it('refreshes every refreshInterval the manager serves, and after close() never', async () => {
      const { app } = makeManager(fs);
      const { fetch, calls } = routed({ [M1]: (u, i) => app.request(u.href, i) });
      const c = makeClient({ fetch });
      await c.start();

      await vi.advanceTimersByTimeAsync(59_999);
      expect(rounds(calls)).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(rounds(calls)).toBe(2);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(rounds(calls)).toBe(3);

      c.close();
      await vi.advanceTimersByTimeAsync(600_000);
      expect(rounds(calls)).toBe(3);
    });

    it('prefers the refreshIntervalMs option, and an on-demand refresh restarts the wait', async () => {
      const { app } = makeManager(fs);
      const { fetch, calls } = routed({ [M1]: (u, i) => app.request(u.href, i) });
      const c = makeClient({ fetch, refreshIntervalMs: 5_000 });
      await c.start();

      await vi.advanceTimersByTimeAsync(4_000);
      await c.refreshNow();
      await vi.advanceTimersByTimeAsync(4_000);
      expect(rounds(calls)).toBe(2);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(rounds(calls)).toBe(3);
    });

    it('retries after retryIntervalMs while no manager answers', async () => {
      const { fetch, calls } = routed({});
      const c = makeClient({ fetch, retryIntervalMs: 2_000 });
      await c.start();

      await vi.advanceTimersByTimeAsync(1_999);
      expect(rounds(calls)).toBe(2); // One per manager.
      await vi.advanceTimersByTimeAsync(1);
      expect(rounds(calls)).toBe(4);
    });
  });

  describe('over loopback HTTP with the default fetch', () => {
    let server: Server | undefined;
    afterEach(
      () =>
        new Promise<void>((done) => {
          server?.closeAllConnections();
          server ? server.close(() => done()) : done();
        }),
    );

    it('skips a closed port and reads the live manager', async () => {
      const { app } = makeManager(fs);
      const live = await new Promise<string>((resolve) => {
        server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
          resolve(`http://127.0.0.1:${info.port}`),
        ) as Server;
      });
      const dead = await closedPort();

      client = createManagerClient({ netAddrs: [dead, live], requestTimeoutMs: 2_000 });
      const snapshot = await client.start();

      expect(snapshot?.seedPeers.map((p) => p.objectApi)).toEqual([
        'http://10.0.1.1:65004',
        'http://10.0.1.2:65004',
      ]);
    });
  });
});

/** An origin on 127.0.0.1 whose port was just closed, so connecting is refused. */
async function closedPort(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
