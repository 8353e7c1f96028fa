import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createErrorHandler, notFoundHandler } from '../../../lib/api/error-handler.ts';
import { createKeyChangeHandler } from '../../../lib/peer/key-changes.ts';
import { createP2pClient, type P2pClient, P2pHttpError } from '../../../lib/peer/p2p-client.ts';
import { P2P_PREFIX } from '../../../lib/peer/p2p-protocol.ts';
import { addP2pRoutes, type P2pRoutesDeps } from '../../../lib/peer/p2p-routes.ts';
import { noopLogger } from '../../../lib/storage/deps.ts';
import {
  bits,
  body,
  layoutOf,
  metadataOf,
  newTracker,
  node,
  SELF,
  source,
  taskIdOf,
} from './tracker-fakes.ts';

const ID = taskIdOf('a');

function setup(options: { seed?: boolean } = {}) {
  const made = newTracker();
  const tracker = options.seed === false ? undefined : made.tracker;
  const evictions: unknown[][] = [];
  const onKeyChanged = createKeyChangeHandler({
    tracker,
    client: { keyChanged: async () => ({ evicted: 0, forwarded: 0, failed: 0 }) },
    evictLocal: async (...args) => {
      evictions.push(args);
      return 1;
    },
    logger: noopLogger,
  });
  const app = appWith({ tracker, onKeyChanged });
  return { ...made, app, evictions };
}

/** The piece server's shape: the real error handler, then the P2P routes. */
function appWith(deps: P2pRoutesDeps): Hono {
  const app = new Hono({ strict: true });
  app.onError(createErrorHandler());
  app.notFound(notFoundHandler);
  return addP2pRoutes(app, deps);
}

const post = (app: Hono, path: string, payload: unknown) =>
  app.request(`${P2P_PREFIX}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });

/** A JSON body: an answer, or an error (`{"errors", "code"}`). */
const jsonOf = async (res: Response) => (await res.json()) as Record<string, unknown>;

let made: ReturnType<typeof setup> | undefined;
afterEach(() => made?.tracker.close());
const fresh = (options?: { seed?: boolean }) => {
  made = setup(options);
  return made;
};

describe('P2P routes over app.request', () => {
  it('syncs a task: a writer announces, a reader learns the layout and holders', async () => {
    const { app } = fresh();
    const layout = layoutOf(ID, 10);

    const writer = await post(app, `/tasks/${ID}/sync`, { node: node(1), layout });
    const reader = await post(app, `/tasks/${ID}/sync`, { node: node(2) });

    expect(writer.status).toBe(200);
    expect(await jsonOf(reader)).toMatchObject({
      layout,
      holders: [{ node: node(1), have: bits(3, [0, 1, 2]) }],
    });
  });

  it('answers 422 for a bad task ID', async () => {
    const { app } = fresh();

    const res = await post(app, '/tasks/ABC/sync', { node: node(1) });

    expect(res.status).toBe(422);
    expect(await jsonOf(res)).toEqual({
      errors: 'taskId must be 64 lower-case hex characters',
      code: 'ERR_INVALID_ARGUMENT',
    });
  });

  it('answers 422 with a JSON error for a body that is not JSON or has a bad shape', async () => {
    const { app } = fresh();

    const notJson = await post(app, `/tasks/${ID}/sync`, '{"node":');
    const badShape = await post(app, `/tasks/${ID}/sync`, { node: { peerId: 'p', pieces: 'x' } });
    const extra = await post(app, `/tasks/${ID}/sync`, { node: node(1), waitMs: 60_000 });

    expect(notJson.status).toBe(422);
    expect(await jsonOf(notJson)).toEqual({
      errors: 'the body must be JSON',
      code: 'ERR_INVALID_ARGUMENT',
    });
    expect(badShape.status).toBe(422);
    expect(await jsonOf(badShape)).toMatchObject({
      errors: expect.stringMatching(/^invalid body: node\.pieces: /),
      code: 'ERR_INVALID_ARGUMENT',
    });
    expect(extra.status).toBe(422);
    expect((await jsonOf(extra)).errors).toMatch(/^invalid body: waitMs: /);
  });

  it('answers 404 ERR_TASK_NOT_FOUND, and 410 ERR_TASK_GONE for a dropped task', async () => {
    const { app, tracker } = fresh();
    await post(app, `/tasks/${ID}/sync`, { node: node(1), layout: layoutOf(ID, 10) });
    tracker.dropTask(ID);

    const missing = await post(app, `/tasks/${taskIdOf('b')}/sync`, { node: node(1) });
    const gone = await post(app, `/tasks/${ID}/sync`, { node: node(1) });

    expect(missing.status).toBe(404);
    expect((await jsonOf(missing)).code).toBe('ERR_TASK_NOT_FOUND');
    expect(gone.status).toBe(410);
    expect((await jsonOf(gone)).code).toBe('ERR_TASK_GONE');
  });

  it('answers 404 ERR_NOT_SEED_PEER for tracker routes on a plain peer', async () => {
    const { app, evictions } = fresh({ seed: false });

    const sync = await post(app, `/tasks/${ID}/sync`, { node: node(1) });
    const current = await app.request(`${P2P_PREFIX}/keys/current?bucket=b&key=k`);
    const changed = await post(app, '/keys/changed', { bucket: 'b', key: 'k' });

    expect(sync.status).toBe(404);
    expect((await jsonOf(sync)).code).toBe('ERR_NOT_SEED_PEER');
    expect(current.status).toBe(404);
    expect(changed.status).toBe(200);
    expect(await jsonOf(changed)).toEqual({ evicted: 1, forwarded: 0, failed: 0 });
    expect(evictions).toEqual([['b', 'k', undefined]]);
  });

  it('takes key changes and answers the pending version of a key', async () => {
    const { app } = fresh();
    const current = { taskId: ID, state: 'pending', metadata: metadataOf(10), holder: node(1) };

    const changed = await post(app, '/keys/changed', { bucket: 'b', key: 'k', current });
    const found = await app.request(`${P2P_PREFIX}/keys/current?bucket=b&key=k`);
    const other = await app.request(`${P2P_PREFIX}/keys/current?bucket=b&key=other`);
    const noKey = await app.request(`${P2P_PREFIX}/keys/current?bucket=b`);
    const badChange = await post(app, '/keys/changed', { bucket: 'b' });

    expect(changed.status).toBe(200);
    expect(await jsonOf(found)).toEqual({ taskId: ID, metadata: metadataOf(10), holder: node(1) });
    expect(other.status).toBe(404);
    expect(noKey.status).toBe(422);
    expect(badChange.status).toBe(422);
    expect((await jsonOf(badChange)).code).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('P2P routes through the real client and server', () => {
  let server: ServerType;
  let url: string;
  let client: P2pClient;
  let ctx: ReturnType<typeof setup>;

  beforeAll(async () => {
    ctx = setup();
    url = await new Promise<string>((resolve) => {
      server = serve({ fetch: ctx.app.fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
        resolve(`http://127.0.0.1:${(info as AddressInfo).port}`),
      );
    });
    client = createP2pClient();
  });

  afterAll(async () => {
    ctx.tracker.close();
    await client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('fetches from the source, then long-polls until our own piece lands', async () => {
    const first = await client.sync(url, ID, { node: node(1), source: source() });
    const poll = client.sync(url, ID, { node: node(1), since: first.revision, waitMs: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    ctx.store.addPiece(ID, 1);
    ctx.tracker.pieceAdded(ID, 1);
    const woken = await poll;

    expect(first.layout.pieceDigests).toEqual(['', '', '']);
    expect(woken.revision).toBeGreaterThan(first.revision);
    expect(woken.holders).toEqual([{ node: SELF, have: bits(3, [1]) }]);
    expect(ctx.sources.calls).toHaveLength(1);
  });

  it('speaks keys/changed and keys/current, and surfaces errors as P2pHttpError', async () => {
    const gone = taskIdOf('gone');
    await client.sync(url, gone, body(2, { layout: layoutOf(gone, 10) }));
    const current = { taskId: ID, state: 'pending' as const, metadata: metadataOf(10) };

    const result = await client.keyChanged(url, {
      bucket: 'b',
      key: 'k',
      current: { ...current, holder: node(1) },
      forward: true,
    });
    const pending = await client.currentVersion(url, 'b', 'k');
    const none = await client.currentVersion(url, 'b', 'nothing');
    const error = await client.sync(url, gone, { node: node(3) }).catch((e: unknown) => e);

    expect(result).toEqual({ evicted: 1, forwarded: 1, failed: 0 });
    expect(pending).toEqual({ taskId: ID, metadata: metadataOf(10), holder: node(1) });
    expect(none).toBeUndefined();
    expect(error).toBeInstanceOf(P2pHttpError);
    expect(error).toMatchObject({ status: 410, code: 'ERR_TASK_GONE' });
  });

  it('ends the server side of a long poll whose caller went away', async () => {
    const id = taskIdOf('abort');
    const { revision } = await client.sync(url, id, body(1, { layout: layoutOf(id, 10) }));
    const sync = ctx.tracker.sync.bind(ctx.tracker);
    let answered = false;
    ctx.tracker.sync = (...args) => sync(...args).finally(() => (answered = true));
    const abort = new AbortController();

    const poll = client.sync(
      url,
      id,
      { node: node(2), since: revision, waitMs: 5_000 },
      abort.signal,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const waiting = !answered;
    abort.abort();
    await expect(poll).rejects.toThrow();
    for (let i = 0; i < 100 && !answered; i++) await new Promise((r) => setTimeout(r, 10));

    expect(waiting).toBe(true);
    expect(answered).toBe(true); // well before its 5 s
  });
});

describe('flush and import routes', () => {
  it('flushes the key through the daemon journal and answers once it landed', async () => {
    const flushed: unknown[] = [];
    const { tracker } = newTracker();
    const app = appWith({
      tracker,
      onKeyChanged: async () => ({ evicted: 0, forwarded: 0, failed: 0 }),
      onFlush: async (request) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        flushed.push(request);
      },
    });
    const res = await post(app, '/keys/flush', { bucket: 'b', key: 'k' });
    expect(res.status).toBe(200);
    expect(flushed).toEqual([{ bucket: 'b', key: 'k' }]);
    expect((await post(app, '/keys/flush', { bucket: 'b' })).status).toBe(422);
  });

  it('starts an import on a seed peer (202) and refuses one elsewhere', async () => {
    const imports: unknown[] = [];
    const { tracker } = newTracker();
    const deps = {
      onKeyChanged: async () => ({ evicted: 0, forwarded: 0, failed: 0 }),
      onImport: (taskId: string, request: unknown) => imports.push([taskId, request]),
    };
    const request = { bucket: 'b', key: 'k', version: 'md5:0123456789abcdef0123456789abcdef' };
    const res = await post(appWith({ ...deps, tracker }), `/tasks/${ID}/import`, request);
    expect(res.status).toBe(202);
    expect(imports).toEqual([[ID, request]]);
    const plain = await post(appWith(deps), `/tasks/${ID}/import`, request);
    expect(plain.status).toBe(404);
    expect(await jsonOf(plain)).toMatchObject({ code: 'ERR_NOT_SEED_PEER' });
    const bad = await post(appWith({ ...deps, tracker }), '/tasks/nothex/import', request);
    expect(bad.status).toBe(422);
  });
});
