import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach } from 'vitest';
import { createP2pClient, type P2pClient } from '../../../lib/peer/p2p-client.ts';
import {
  type NodeRef,
  type SyncResponse,
  syncRequestSchema,
  type TaskLayout,
} from '../../../lib/peer/p2p-protocol.ts';
import { createPieceServerApp } from '../../../lib/peer/piece-server.ts';
import { type SwarmDeps, SwarmDownloader } from '../../../lib/peer/swarm-download.ts';
import { layoutOfTask } from '../../../lib/peer/version-metadata.ts';
import { noopLogger } from '../../../lib/storage/deps.ts';
import { PieceBitmap } from '../../../lib/storage/piece-bitmap.ts';
import { openPieceStore, type PieceStore } from '../../../lib/storage/piece-store.ts';

export const MiB = 1024 * 1024;
export const SELF: NodeRef = { peerId: 'downloader', pieces: 'http://127.0.0.1:9' };

export const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** A task imported into a store of its own: what every holder of a test serves. */
export interface SourceTask {
  readonly store: PieceStore;
  readonly taskId: string;
  readonly bytes: Buffer;
  readonly layout: TaskLayout;
  close(): Promise<void>;
}

/** Imports `size` random bytes as task `name` (bucket `b`, key `name`). */
export async function makeSource(size: number, name: string): Promise<SourceTask> {
  const dir = await mkdtemp(join(tmpdir(), 'dfstore-swarm-src-'));
  const store = await openPieceStore({ dataDir: dir });
  const bytes = randomBytes(size);
  const taskId = sha256(Buffer.from(`task ${name}`));
  const writer = await store.beginImport({ sizeHint: size, bucket: 'b', key: name });
  await writer.write(Readable.from([bytes]));
  const { meta } = await writer.commit(() => taskId);
  const close = async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  };
  return { store, taskId, bytes, layout: layoutOfTask(meta), close };
}

/** A piece server over a store, counting downloads; it can corrupt them or die on one. */
export interface Holder {
  readonly node: NodeRef;
  /** Piece requests it received. */
  requests: number;
  /** Flip a byte of every piece it serves. */
  corrupt: boolean;
  /** Runs before each piece request is answered. */
  onDownload?: () => Promise<void>;
  stop(): Promise<void>;
}

/** A tracker answering `POST /p2p/v1/tasks/:id/sync` as `respond` says (a number: that error). */
export interface FakeTracker {
  readonly node: NodeRef;
  readonly calls: Array<ReturnType<typeof syncRequestSchema.parse>>;
  respond: (call: number) => SyncResponse | number;
  stop(): Promise<void>;
}

/** Per test: servers, stores and downloaders, all closed after the test. */
export function useSwarmWorld() {
  let cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups = [];
  });

  async function listen(fetch: (req: Request) => Promise<Response>): Promise<{
    url: string;
    stop: () => Promise<void>;
  }> {
    let server: Server | undefined;
    const url = await new Promise<string>((resolve) => {
      server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
        resolve(`http://127.0.0.1:${info.port}`),
      ) as Server;
    });
    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= new Promise<void>((resolve) => {
        server?.closeAllConnections();
        server?.close(() => resolve());
      });
      return stopped;
    };
    cleanups.push(stop);
    return { url, stop };
  }

  return {
    async holder(source: Pick<SourceTask, 'store'>, peerId: string): Promise<Holder> {
      const app = createPieceServerApp({ store: source.store });
      const holder: Holder = {
        node: { peerId, pieces: '' },
        requests: 0,
        corrupt: false,
        stop: async () => {},
      };
      const { url, stop } = await listen(async (req) => {
        if (!new URL(req.url).pathname.startsWith('/download/')) return app.fetch(req);
        holder.requests++;
        await holder.onDownload?.();
        const res = await app.fetch(req);
        if (!holder.corrupt || res.status >= 300) return res;
        const body = Buffer.from(await res.arrayBuffer());
        body[body.length >> 1] = (body[body.length >> 1] ?? 0) ^ 0xff;
        return new Response(body, { status: res.status, headers: res.headers });
      });
      Object.assign(holder, { node: { peerId, pieces: url }, stop });
      return holder;
    },

    async tracker(respond: FakeTracker['respond']): Promise<FakeTracker> {
      const app = new Hono();
      const tracker: FakeTracker = {
        node: { peerId: '', pieces: '' },
        calls: [],
        respond,
        stop: async () => {},
      };
      app.post('/p2p/v1/tasks/:id/sync', async (c) => {
        tracker.calls.push(syncRequestSchema.parse(await c.req.json()));
        const answer = tracker.respond(tracker.calls.length);
        if (typeof answer !== 'number') return c.json(answer);
        return c.json({ errors: `fake ${answer}`, code: 'ERR_FAKE' }, answer as 404);
      });
      const { url, stop } = await listen(async (req) => app.fetch(req));
      Object.assign(tracker, { node: { peerId: `tracker-${url}`, pieces: url }, stop });
      return tracker;
    },

    /** A downloader over a fresh store; `deps` overrides (fast syncs by default). */
    async downloader(deps: Partial<SwarmDeps> = {}) {
      const dir = await mkdtemp(join(tmpdir(), 'dfstore-swarm-dst-'));
      const store = await openPieceStore({ dataDir: dir });
      const client: P2pClient = createP2pClient({ headersTimeoutMs: 2_000 });
      const counts = { p2pBytes: 0, pieceFailures: 0 };
      const metrics = {
        p2pBytes: {
          inc: (n = 1) => {
            counts.p2pBytes += n;
          },
        },
        pieceFailures: {
          inc: (n = 1) => {
            counts.pieceFailures += n;
          },
        },
      };
      const swarm = new SwarmDownloader({
        self: SELF,
        store,
        client,
        logger: noopLogger,
        syncWaitMs: 30,
        metrics,
        ...deps,
      });
      cleanups.push(async () => {
        await swarm.close();
        await client.close();
        await store.close();
        await rm(dir, { recursive: true, force: true });
      });
      return { swarm, store, client, counts };
    },
  };
}

/** A tracker answer listing `holders` as holding every piece (or `have`). */
export function answer(
  layout: TaskLayout,
  holders: ReadonlyArray<{ node: NodeRef; have?: number[] }>,
  extra: Partial<SyncResponse> = {},
): SyncResponse {
  return {
    revision: 1,
    layout,
    holders: holders.map(({ node, have }) => ({
      node,
      have: bitmapOf(layout.pieceCount, have ?? [...Array(layout.pieceCount).keys()]),
    })),
    ...extra,
  };
}

export function bitmapOf(count: number, pieces: readonly number[]): string {
  const bitmap = new PieceBitmap(count);
  for (const i of pieces) bitmap.add(i);
  return bitmap.toBase64();
}

/** A node whose piece URL refuses connections (a port just closed). */
export async function deadNode(peerId: string): Promise<NodeRef> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return { peerId, pieces: `http://127.0.0.1:${port}` };
}

/** The whole of a stream. */
export async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
