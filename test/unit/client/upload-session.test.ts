import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDfstoreClient } from '../../../lib/client/dfstore-client.ts';

const MiB = 1024 * 1024;
const PART = 5 * MiB;

/** A fake object API function: /metadata with an inline limit, sessions, and part URLs. */
function fakeFunction(state: {
  origin: string;
  created: Record<string, unknown>[];
  parts: Map<number, Buffer>;
  completed: unknown[];
  aborted: string[];
  failPart?: number;
  inlinePuts: number;
}) {
  const app = new Hono();
  app.get('/metadata', (c) =>
    c.json({ Name: 's3', Region: 'r', Endpoint: 'e', inlineLimit: 4 * MiB }),
  );
  app.post('/buckets/:bucket/uploads', async (c) => {
    const body = (await c.req.json()) as { contentLength: number };
    state.created.push(body);
    const count = Math.ceil(body.contentLength / PART);
    const parts = Array.from({ length: count }, (_, i) => ({
      partNumber: i + 1,
      url: `${state.origin}/part/${i + 1}?X-Signature=abc`,
    }));
    return c.json({ uploadId: 'u-1', partSize: PART, parts, expiresAt: 'later' });
  });
  app.put('/part/:n', async (c) => {
    const n = Number(c.req.param('n'));
    expect(c.req.header('authorization')).toBeUndefined();
    if (state.failPart === n) return c.text('denied', 403);
    const data = Buffer.from(await c.req.arrayBuffer());
    state.parts.set(n, data);
    return c.body(null, 200, { ETag: `"etag-${n}"` });
  });
  app.post('/buckets/:bucket/uploads/:id/complete', async (c) => {
    state.completed.push(await c.req.json());
    return c.json({ etag: '"final"' });
  });
  app.delete('/buckets/:bucket/uploads/:id', (c) => {
    state.aborted.push(`${c.req.param('id')}:${c.req.query('key')}`);
    return c.body(null, 200);
  });
  app.put('/buckets/:bucket/objects/*', async (c) => {
    state.inlinePuts++;
    await c.req.arrayBuffer();
    return c.body(null, 200);
  });
  return app;
}

let server: ServerType;
let dir: string;
const state = {
  origin: '',
  created: [] as Record<string, unknown>[],
  parts: new Map<number, Buffer>(),
  completed: [] as unknown[],
  aborted: [] as string[],
  failPart: undefined as number | undefined,
  inlinePuts: 0,
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dfstore-session-'));
  await new Promise<void>((resolve) => {
    server = serve({ fetch: fakeFunction(state).fetch, hostname: '127.0.0.1', port: 0 }, () =>
      resolve(),
    );
  });
  state.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  state.created.length = 0;
  state.parts.clear();
  state.completed.length = 0;
  state.aborted.length = 0;
  state.failPart = undefined;
  state.inlinePuts = 0;
});

describe('upload sessions above the inline limit', () => {
  it('sends the md5 digest, streams every part to its URL, and completes in part order', async () => {
    const data = randomBytes(12 * MiB + 123);
    const path = join(dir, 'big.bin');
    await writeFile(path, data);
    const client = createDfstoreClient({
      endpoint: `http://dfstore:token@${state.origin.slice(7)}`,
    });
    const progress: number[] = [];
    await client.putObject('bkt', 'dir/big.bin', path, {
      mode: 1,
      onProgress: (sent) => progress.push(sent),
    });
    await client.close();

    const md5 = createHash('md5').update(data).digest('hex');
    expect(state.created).toEqual([
      { key: 'dir/big.bin', contentLength: data.length, digest: `md5:${md5}`, mode: 1 },
    ]);
    const received = Buffer.concat([1, 2, 3].map((n) => state.parts.get(n) ?? Buffer.alloc(0)));
    // Buffer#equals: vitest's deep equality is far too slow on megabytes.
    expect(received.equals(data)).toBe(true);
    expect(state.completed).toEqual([
      {
        key: 'dir/big.bin',
        parts: [1, 2, 3].map((n) => ({ partNumber: n, etag: `"etag-${n}"` })),
      },
    ]);
    expect(progress.at(-1)).toBe(data.length);
    expect(state.inlinePuts).toBe(0);
  });

  it('aborts the session when a part is refused, and reports why', async () => {
    const path = join(dir, 'refused.bin');
    await writeFile(path, randomBytes(6 * MiB));
    state.failPart = 2;
    const client = createDfstoreClient({ endpoint: state.origin });
    await expect(client.putObject('bkt', 'k', path)).rejects.toThrow(/answered 403: denied/);
    await client.close();
    expect(state.completed).toEqual([]);
    expect(state.aborted).toEqual(['u-1:k']);
  });

  it('keeps files under the limit on the plain PUT', async () => {
    const path = join(dir, 'small.bin');
    await writeFile(path, randomBytes(1024));
    const client = createDfstoreClient({ endpoint: state.origin });
    await client.putObject('bkt', 'small', path);
    await client.close();
    expect(state.inlinePuts).toBe(1);
    expect(state.created).toEqual([]);
  });
});
