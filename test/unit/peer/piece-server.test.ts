import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskIdV1 } from '../../../lib/core/task-id.ts';
import { createDaemonMetrics } from '../../../lib/observability/metrics.ts';
import {
  createPieceServerApp,
  PIECE_DIGEST_HEADER,
  PIECE_INDEX_HEADER,
} from '../../../lib/peer/piece-server.ts';
import { openPieceStore, type PieceStore } from '../../../lib/storage/piece-store.ts';

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
/** 9 MiB of a byte pattern: three 4 MiB pieces, the last one 1 MiB. */
const data = Buffer.alloc(9 * MiB, 0);
for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;

let work: string;
let store: PieceStore;
let taskId: string;
let partialId: string;
let emptyId: string;

async function importBytes(bytes: Buffer, key: string): Promise<string> {
  const writer = await store.beginImport({ sizeHint: bytes.length });
  await writer.write(Readable.from([bytes]));
  const { meta } = await writer.commit((digest) => taskIdV1(`fs://bucket/${key}`, { digest }));
  return meta.taskId;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'dfstore-piece-server-'));
  store = await openPieceStore({ dataDir: work });
  taskId = await importBytes(data, 'nine');
  emptyId = await importBytes(Buffer.alloc(0), 'empty');
  // A partial task holding only piece 1 of the same bytes.
  partialId = taskIdV1('fs://bucket/partial', { digest: 'md5:0' });
  const pieces = [0, 1, 2].map((i) =>
    data.subarray(i * 4 * MiB, Math.min((i + 1) * 4 * MiB, data.length)),
  );
  const partial = await store.openPartial(partialId, {
    contentLength: data.length,
    pieceSize: 4 * MiB,
    pieceDigests: pieces.map(sha256),
  });
  await partial.writePiece(1, pieces[1] as Buffer);
  await partial.close();
});

afterAll(async () => {
  await store?.close();
  await rm(work, { recursive: true, force: true });
});

const app = () => createPieceServerApp({ store });
const download = (id: string, headers: Record<string, string> = {}, prefix = id.slice(0, 3)) =>
  app().request(`/download/${prefix}/${id}?peerId=peer-1`, { headers });

describe('piece server', () => {
  it('serves exactly one piece for its range, with its index and sha256', async () => {
    const res = await download(taskId, { Range: `bytes=${4 * MiB}-${8 * MiB - 1}` });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes ${4 * MiB}-${8 * MiB - 1}/${9 * MiB}`);
    expect(res.headers.get('content-length')).toBe(String(4 * MiB));
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.equals(data.subarray(4 * MiB, 8 * MiB))).toBe(true);
    expect(res.headers.get(PIECE_INDEX_HEADER)).toBe('1');
    expect(res.headers.get(PIECE_DIGEST_HEADER)).toBe(sha256(body));
  });

  it('gives the short last piece its digest too', async () => {
    const res = await download(taskId, { Range: `bytes=${8 * MiB}-${9 * MiB - 1}` });
    expect(res.status).toBe(206);
    expect(res.headers.get(PIECE_DIGEST_HEADER)).toBe(sha256(data.subarray(8 * MiB)));
  });

  it('sends no digest for a range that is not exactly one piece', async () => {
    for (const range of ['bytes=0-99', `bytes=0-${8 * MiB - 1}`, `bytes=1-${4 * MiB}`]) {
      const res = await download(taskId, { Range: range });
      expect(res.status).toBe(206);
      expect(res.headers.get(PIECE_DIGEST_HEADER)).toBeNull();
      await res.arrayBuffer();
    }
  });

  it('serves the whole task without a Range', async () => {
    const res = await download(taskId);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
    const empty = await download(emptyId);
    expect(empty.status).toBe(200);
    expect(await empty.text()).toBe('');
  });

  it('serves the pieces a partial task holds, and 404s the rest', async () => {
    const held = await download(partialId, { Range: `bytes=${4 * MiB}-${4 * MiB + 9}` });
    expect(held.status).toBe(206);
    expect(Buffer.from(await held.arrayBuffer()).equals(data.subarray(4 * MiB, 4 * MiB + 10))).toBe(
      true,
    );
    const missing = await download(partialId, { Range: 'bytes=0-9' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'ERR_NOT_FOUND' });
    expect((await download(partialId)).status).toBe(404);
  });

  it('omits the digest of a piece whose digest the task does not know yet', async () => {
    // Present pieces always have their digest in a real store; the server does not rely on it.
    const meta = store.stat(taskId);
    if (!meta) throw new Error('no task');
    const learning = createPieceServerApp({
      store: {
        stat: () => ({ ...meta, pieceDigests: [meta.pieceDigests[0] ?? '', '', ''] }),
        createReadStream: (id, range) => store.createReadStream(id, range),
      },
    });
    const get = (range: string) =>
      learning.request(`/download/${taskId.slice(0, 3)}/${taskId}`, { headers: { Range: range } });

    const unknown = await get(`bytes=${4 * MiB}-${8 * MiB - 1}`);
    const known = await get(`bytes=0-${4 * MiB - 1}`);

    expect(unknown.status).toBe(206);
    expect(unknown.headers.get(PIECE_INDEX_HEADER)).toBe('1');
    expect(unknown.headers.has(PIECE_DIGEST_HEADER)).toBe(false);
    expect(known.headers.get(PIECE_DIGEST_HEADER)).toBe(sha256(data.subarray(0, 4 * MiB)));
    await Promise.all([unknown.arrayBuffer(), known.arrayBuffer()]);
  });

  it('flips the first byte of every body when told to corrupt pieces', async () => {
    const pins = store.pinCount(taskId); // earlier tests may leave unread bodies pinned
    const corrupt = createPieceServerApp({ store, corruptPieces: true });
    const range = `bytes=${4 * MiB}-${8 * MiB - 1}`;
    const res = await corrupt.request(`/download/${taskId.slice(0, 3)}/${taskId}`, {
      headers: { Range: range },
    });

    expect(res.status).toBe(206);
    const body = Buffer.from(await res.arrayBuffer());
    const expected = Buffer.from(data.subarray(4 * MiB, 8 * MiB));
    expected[0] = (expected[0] ?? 0) ^ 0xff;
    expect(body.equals(expected)).toBe(true);
    // The header still names the true digest: that is how downloaders catch the fault.
    expect(res.headers.get(PIECE_DIGEST_HEADER)).toBe(sha256(data.subarray(4 * MiB, 8 * MiB)));
    await expect.poll(() => store.pinCount(taskId)).toBe(pins);
    const empty = await corrupt.request(`/download/${emptyId.slice(0, 3)}/${emptyId}`);
    expect(await empty.text()).toBe('');
  });

  it('404s an unknown task with a JSON error', async () => {
    const res = await download('f'.repeat(64));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ errors: 'task not found', code: 'ERR_NOT_FOUND' });
  });

  it('422s a task ID that is not 64 lower-case hex, or a wrong prefix', async () => {
    for (const id of ['abc', taskId.toUpperCase(), `${taskId}0`, 'g'.repeat(64)]) {
      expect((await download(id, {}, id.slice(0, 3))).status).toBe(422);
    }
    const wrongPrefix = await download(taskId, {}, 'zzz');
    expect(wrongPrefix.status).toBe(422);
    expect(await wrongPrefix.json()).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('416s malformed, multiple and unsatisfiable ranges', async () => {
    for (const range of ['bytes=a-b', 'bytes=0-1,4-5', `bytes=${9 * MiB}-`, 'items=0-1']) {
      const res = await download(taskId, { Range: range });
      expect(res.status).toBe(416);
    }
    const past = await download(taskId, { Range: `bytes=${9 * MiB}-${9 * MiB + 5}` });
    expect(past.headers.get('content-range')).toBe(`bytes */${9 * MiB}`);
  });

  it('answers /healthy, and /metrics only when given a registry', async () => {
    expect(await (await app().request('/healthy')).json()).toBe('OK');
    expect((await app().request('/metrics')).status).toBe(404);
    const metrics = createDaemonMetrics({ processMetrics: false });
    metrics.observe({ store });
    const res = await createPieceServerApp({ store, metrics: metrics.registry }).request(
      '/metrics',
    );
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toMatch(/^dfstore_store_tasks 3$/m);
  });
});
