import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConflictError, IntegrityError, NotFoundError } from '../../../lib/core/errors.ts';
import { openPieceStore } from '../../../lib/storage/piece-store.ts';
import { readAll, sha256OfStream } from '../../helpers/streams.ts';
import { bytesOf, fakeTaskId, ls, MiB, md5Digest, sha256Hex, useTempDirs } from './fixtures.ts';

const tempDir = useTempDirs();
const PIECE = 1024;

/** A 5-piece object (last piece short) and its announced layout. */
function object(size = 4 * PIECE + 100, seed = 3) {
  const data = bytesOf(size, seed);
  const pieces = Array.from({ length: Math.ceil(size / PIECE) }, (_, i) =>
    data.subarray(i * PIECE, Math.min((i + 1) * PIECE, size)),
  );
  const layout = {
    contentLength: size,
    pieceSize: PIECE,
    pieceDigests: pieces.map(sha256Hex),
    digest: md5Digest(data),
    contentType: 'text/plain',
  };
  return { data, pieces, layout };
}

const never = { setTimeout: () => 0, clearTimeout: () => {} };

function piece(pieces: Buffer[], index: number): Buffer {
  const found = pieces[index];
  if (!found) throw new Error(`no piece ${index}`);
  return found;
}

describe('piece store partial tasks', () => {
  it('rejects a corrupt piece, accepts a good one and announces it', async () => {
    const landed: Array<[string, number]> = [];
    const store = await openPieceStore({
      dataDir: await tempDir(),
      onPiece: (id, i) => landed.push([id, i]),
    });
    const { pieces, layout } = object();
    const taskId = fakeTaskId(1);
    const task = await store.openPartial(taskId, layout);
    const events: number[] = [];
    task.onPiece((i) => events.push(i));

    const corrupt = Buffer.from(piece(pieces, 2));
    corrupt[10] = (corrupt[10] ?? 0) ^ 0xff;
    await expect(task.writePiece(2, corrupt)).rejects.toBeInstanceOf(IntegrityError);
    await expect(task.writePiece(2, piece(pieces, 2).subarray(1))).rejects.toBeInstanceOf(
      IntegrityError,
    );
    await expect(task.writePiece(9, piece(pieces, 2))).rejects.toMatchObject({ statusCode: 422 });
    expect(task.hasPiece(2)).toBe(false);

    expect(await task.writePiece(2, piece(pieces, 2))).toBe(true);
    expect(await task.writePiece(2, piece(pieces, 2))).toBe(false);

    expect(task.hasPiece(2)).toBe(true);
    expect(store.hasPiece(taskId, 2)).toBe(true);
    expect(events).toEqual([2]);
    expect(landed).toEqual([[taskId, 2]]);
    expect(await store.readPiece(taskId, 2, { verify: true })).toEqual(piece(pieces, 2));
    await expect(store.readPiece(taskId, 1)).rejects.toBeInstanceOf(NotFoundError);
    await task.close();
    await store.close();
  });

  it('completes atomically once every piece landed, in any order', async () => {
    const dataDir = await tempDir();
    const store = await openPieceStore({ dataDir });
    const { data, pieces, layout } = object();
    const taskId = fakeTaskId(2);
    const task = await store.openPartial(taskId, layout);
    let completed = 0;
    task.onComplete(() => completed++);

    for (const i of [4, 0, 3, 1]) await task.writePiece(i, piece(pieces, i));
    expect(task.isComplete).toBe(false);
    expect(task.presentPieces()).toEqual([0, 1, 3, 4]);
    await expect(
      store.createReadStream(taskId, { start: 0, end: 2 * PIECE }),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(
      await readAll(await store.createReadStream(taskId, { start: 0, end: 2 * PIECE - 1 })),
    ).toEqual(data.subarray(0, 2 * PIECE));
    await task.writePiece(2, piece(pieces, 2));

    expect(task.isComplete).toBe(true);
    expect(completed).toBe(1);
    const meta = JSON.parse(
      await readFile(join(dataDir, 'tasks', taskId.slice(0, 3), taskId, 'meta.json'), 'utf8'),
    );
    expect(meta).toMatchObject({
      complete: true,
      digest: layout.digest,
      contentType: 'text/plain',
    });
    expect(meta.presentPieces).toBeUndefined();
    expect(await readAll(await store.createReadStream(taskId))).toEqual(data);
    expect(store.usage().usedBytes).toBe(data.length);
    await task.close();
    await store.close();
  });

  it('fails the task when the pieces do not add up to the object digest', async () => {
    const store = await openPieceStore({ dataDir: await tempDir() });
    const { pieces, layout } = object(2 * PIECE);
    const taskId = fakeTaskId(3);
    const task = await store.openPartial(taskId, {
      ...layout,
      digest: md5Digest(Buffer.from('other')),
    });

    await task.writePiece(0, piece(pieces, 0));
    await expect(task.writePiece(1, piece(pieces, 1))).rejects.toBeInstanceOf(IntegrityError);
    await task.close();

    await expect.poll(() => store.stat(taskId)).toBeUndefined();
    await store.close();
  });

  it('after a crash claims only the pieces whose bytes were synced and recorded', async () => {
    const dataDir = await tempDir();
    // Bitmap persistence waits for a timer that never fires: only flush() records pieces.
    const first = await openPieceStore({ dataDir, timers: never, persistDelayMs: 1000 });
    const { data, pieces, layout } = object();
    const taskId = fakeTaskId(4);
    const task = await first.openPartial(taskId, layout);
    await task.writePiece(0, piece(pieces, 0));
    await task.writePiece(3, piece(pieces, 3));
    await task.flush();
    await task.writePiece(1, piece(pieces, 1)); // written, not recorded

    // "Crash": a new store on the same directory, without closing the first.
    const second = await openPieceStore({ dataDir });

    expect(second.stat(taskId)?.complete).toBe(false);
    expect(second.hasPiece(taskId, 0)).toBe(true);
    expect(second.hasPiece(taskId, 3)).toBe(true);
    expect(second.hasPiece(taskId, 1)).toBe(false);
    const resumed = await second.openPartial(taskId, layout);
    expect(resumed.presentPieces()).toEqual([0, 3]);
    for (const i of [1, 2, 4]) await resumed.writePiece(i, piece(pieces, i));
    expect(resumed.isComplete).toBe(true);
    expect(await readAll(await second.createReadStream(taskId))).toEqual(data);
    await resumed.close();
    await second.close();
  });

  it('shares one writer per task and refuses a different layout', async () => {
    const store = await openPieceStore({ dataDir: await tempDir() });
    const { pieces, layout } = object();
    const taskId = fakeTaskId(5);
    const a = await store.openPartial(taskId, layout);
    const b = await store.openPartial(taskId, layout);

    expect(b).toBe(a);
    await expect(
      store.openPartial(taskId, { ...layout, pieceSize: 512, pieceDigests: [] }),
    ).rejects.toMatchObject({ statusCode: 422 });
    await expect(
      store.openPartial(taskId, { ...layout, pieceDigests: [...layout.pieceDigests].reverse() }),
    ).rejects.toBeInstanceOf(ConflictError);
    await a.close();
    await b.writePiece(0, piece(pieces, 0)); // still open for b
    expect(store.pinCount(taskId)).toBe(1);
    await b.close();
    expect(store.pinCount(taskId)).toBe(0);
    await expect(b.writePiece(1, piece(pieces, 1))).rejects.toBeInstanceOf(ConflictError);
    await store.close();
  });

  it('turns an open partial task complete when an import of the same content commits', async () => {
    const store = await openPieceStore({ dataDir: await tempDir() });
    const data = bytesOf(4 * MiB + 10, 11);
    const importer = await store.beginImport();
    const result = await importer.write([data]);
    const taskId = fakeTaskId(6);
    const task = await store.openPartial(taskId, {
      contentLength: result.contentLength,
      pieceSize: result.pieceSize,
      pieceDigests: result.pieceDigests,
      digest: result.digest,
    });
    await task.writePiece(1, data.subarray(4 * MiB));

    const { created } = await importer.commit(() => taskId);

    expect(created).toBe(true);
    expect(task.isComplete).toBe(true);
    expect(store.stat(taskId)?.complete).toBe(true);
    expect(await task.writePiece(0, data.subarray(0, 4 * MiB))).toBe(false);
    await task.close();
    expect(await sha256OfStream(await store.createReadStream(taskId))).toBe(sha256Hex(data));
    expect(store.usage().usedBytes).toBe(data.length);
    await store.close();
  });

  it('recovery drops staging leftovers and inconsistent tasks, keeps good ones', async () => {
    const dataDir = await tempDir();
    const store = await openPieceStore({ dataDir });
    const { pieces, layout } = object();
    const good = fakeTaskId(7);
    const task = await store.openPartial(good, layout);
    await task.writePiece(1, piece(pieces, 1));
    await task.close();
    const writer = await store.beginImport(); // never committed
    await writer.write([Buffer.from('half an upload')]);
    const truncated = fakeTaskId(8);
    await (await store.openPartial(truncated, layout)).close();
    await store.close();
    const taskDir = (id: string) => join(dataDir, 'tasks', id.slice(0, 3), id);
    const handle = await open(join(taskDir(truncated), 'data'), 'r+');
    await handle.truncate(10);
    await handle.close();
    const garbled = fakeTaskId(9);
    await mkdir(taskDir(garbled), { recursive: true });
    await writeFile(join(taskDir(garbled), 'meta.json'), '{"version":1,');
    await writeFile(join(taskDir(garbled), 'data'), '');
    await writeFile(join(taskDir(good), 'meta.json.tmp-0123456789ab'), 'torn');

    const reopened = await openPieceStore({ dataDir });

    expect(reopened.listTasks().map((m) => m.taskId)).toEqual([good]);
    expect(reopened.hasPiece(good, 1)).toBe(true);
    expect(await ls(join(dataDir, 'staging'))).toEqual([]);
    expect(await ls(taskDir(good))).toEqual(['data', 'meta.json']);
    expect(await ls(taskDir(garbled))).toEqual([]);
    await reopened.close();
  });
});
