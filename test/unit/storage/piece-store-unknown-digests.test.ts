import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConflictError, IntegrityError, ValidationError } from '../../../lib/core/errors.ts';
import { PieceBitmap } from '../../../lib/storage/piece-bitmap.ts';
import { openPieceStore } from '../../../lib/storage/piece-store.ts';
import {
  parseTaskMeta,
  serializeTaskMeta,
  type TaskMeta,
  validatePieceLayout,
} from '../../../lib/storage/task-meta.ts';
import { readAll } from '../../helpers/streams.ts';
import { bytesOf, fakeTaskId, md5Digest, sha256Hex, useTempDirs } from './fixtures.ts';

const tempDir = useTempDirs();
const PIECE = 1024;

/** A 3-piece object (last piece short) announced with no piece digest known. */
function object(seed = 5) {
  const data = bytesOf(2 * PIECE + 300, seed);
  const pieces = [0, 1, 2].map((i) => data.subarray(i * PIECE, (i + 1) * PIECE));
  const digests = pieces.map(sha256Hex);
  const layout = {
    contentLength: data.length,
    pieceSize: PIECE,
    pieceDigests: ['', '', ''],
    digest: md5Digest(data),
  };
  return { data, pieces, digests, layout };
}

function at<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`no item ${index}`);
  return item;
}

const never = { setTimeout: () => 0, clearTimeout: () => {} };

describe('partial tasks with piece digests learnt piece by piece', () => {
  it('takes a source piece as it is: its sha256 becomes the digest, a known one must match', async () => {
    const store = await openPieceStore({ dataDir: await tempDir() });
    const { pieces, digests, layout } = object();
    const taskId = fakeTaskId(9);
    const task = await store.openPartial(taskId, {
      ...layout,
      pieceDigests: ['', '', at(digests, 2)],
    });

    expect(await task.writeSourcePiece(0, at(pieces, 0))).toBe(true);
    expect(store.stat(taskId)?.pieceDigests).toEqual([at(digests, 0), '', at(digests, 2)]);
    await expect(task.writeSourcePiece(2, at(pieces, 1).subarray(0, 300))).rejects.toBeInstanceOf(
      IntegrityError,
    );
    expect(task.hasPiece(2)).toBe(false);
    expect(await task.writeSourcePiece(0, at(pieces, 0))).toBe(false);
    await task.close();
  });

  it('needs a digest for an unknown piece and shows it in stat() once written', async () => {
    const store = await openPieceStore({ dataDir: await tempDir() });
    const { pieces, digests, layout } = object();
    const taskId = fakeTaskId(1);
    const task = await store.openPartial(taskId, layout);

    await expect(task.writePiece(1, at(pieces, 1))).rejects.toBeInstanceOf(ValidationError);
    await expect(task.writePiece(1, at(pieces, 1), at(digests, 0))).rejects.toBeInstanceOf(
      IntegrityError,
    );
    await expect(task.writePiece(1, at(pieces, 1), 'ABC')).rejects.toBeInstanceOf(ValidationError);
    expect(task.hasPiece(1)).toBe(false);
    expect(store.stat(taskId)?.pieceDigests).toEqual(['', '', '']);

    expect(await task.writePiece(1, at(pieces, 1), at(digests, 1))).toBe(true);

    expect(store.hasPiece(taskId, 1)).toBe(true);
    expect(store.stat(taskId)?.pieceDigests).toEqual(['', at(digests, 1), '']);
    expect(await store.readPiece(taskId, 1, { verify: true })).toEqual(at(pieces, 1));
    await task.close();
    await store.close();
  });

  it('refuses an expected digest that contradicts a known one', async () => {
    const store = await openPieceStore({ dataDir: await tempDir() });
    const { pieces, digests, layout } = object();
    const taskId = fakeTaskId(2);
    const task = await store.openPartial(taskId, {
      ...layout,
      pieceDigests: [at(digests, 0), '', ''],
    });

    await expect(task.writePiece(0, at(pieces, 0), at(digests, 1))).rejects.toBeInstanceOf(
      IntegrityError,
    );
    expect(task.hasPiece(0)).toBe(false);
    expect(await task.writePiece(0, at(pieces, 0))).toBe(true);
    expect(await task.writePiece(0, at(pieces, 0), at(digests, 0))).toBe(false);
    await task.close();
    await store.close();
  });

  it('claims a learnt digest before the bytes land: other bytes for that piece fail', async () => {
    const store = await openPieceStore({ dataDir: await tempDir() });
    const { pieces, digests, layout } = object();
    const other = bytesOf(PIECE, 99);
    const task = await store.openPartial(fakeTaskId(3), layout);

    const [good, bad] = await Promise.allSettled([
      task.writePiece(0, at(pieces, 0), at(digests, 0)),
      task.writePiece(0, other, sha256Hex(other)),
    ]);

    expect(good).toEqual({ status: 'fulfilled', value: true });
    expect(bad).toMatchObject({ status: 'rejected', reason: expect.any(IntegrityError) });
    expect(await store.readPiece(fakeTaskId(3), 0, { verify: true })).toEqual(at(pieces, 0));
    await task.close();
    await store.close();
  });

  it('persists learnt digests with the bitmap and recovers them after a restart', async () => {
    const dataDir = await tempDir();
    const first = await openPieceStore({ dataDir, timers: never, persistDelayMs: 1000 });
    const { data, pieces, digests, layout } = object();
    const taskId = fakeTaskId(4);
    const task = await first.openPartial(taskId, layout);
    await task.writePiece(2, at(pieces, 2), at(digests, 2));
    const metaPath = join(dataDir, 'tasks', taskId.slice(0, 3), taskId, 'meta.json');
    expect(JSON.parse(await readFile(metaPath, 'utf8')).pieceDigests).toEqual(['', '', '']);

    await task.flush();

    expect(JSON.parse(await readFile(metaPath, 'utf8')).pieceDigests).toEqual([
      '',
      '',
      at(digests, 2),
    ]);
    await task.close();
    await first.close();

    const second = await openPieceStore({ dataDir });
    expect(second.stat(taskId)?.pieceDigests).toEqual(['', '', at(digests, 2)]);
    expect(second.hasPiece(taskId, 2)).toBe(true);
    // A reopen brings piece 0's digest: it is filled in; piece 1 still needs one.
    const resumed = await second.openPartial(taskId, {
      ...layout,
      pieceDigests: [at(digests, 0), '', ''],
    });
    expect(second.stat(taskId)?.pieceDigests).toEqual([at(digests, 0), '', at(digests, 2)]);
    await expect(resumed.writePiece(1, at(pieces, 1))).rejects.toBeInstanceOf(ValidationError);
    await resumed.writePiece(0, at(pieces, 0));
    await resumed.writePiece(1, at(pieces, 1), at(digests, 1));

    expect(resumed.isComplete).toBe(true);
    const meta = JSON.parse(await readFile(metaPath, 'utf8'));
    expect(meta).toMatchObject({ complete: true, pieceDigests: digests });
    expect(await readAll(await second.createReadStream(taskId))).toEqual(data);
    await resumed.close();
    await second.close();
  });

  it('refuses a reopen whose known digests contradict the task', async () => {
    const store = await openPieceStore({ dataDir: await tempDir() });
    const { pieces, digests, layout } = object();
    const taskId = fakeTaskId(5);
    const task = await store.openPartial(taskId, layout);
    await task.writePiece(0, at(pieces, 0), at(digests, 0));

    await expect(
      store.openPartial(taskId, { ...layout, pieceDigests: [at(digests, 1), '', ''] }),
    ).rejects.toBeInstanceOf(ConflictError);
    const again = await store.openPartial(taskId, layout);

    expect(again).toBe(task);
    expect(store.stat(taskId)?.pieceDigests).toEqual([at(digests, 0), '', '']);
    await again.close();
    await task.close();
    await store.close();
  });

  it('imports keep requiring every digest', () => {
    expect(() => validatePieceLayout(2 * PIECE, PIECE, [sha256Hex(bytesOf(1)), ''])).toThrow(
      ValidationError,
    );
    expect(() =>
      validatePieceLayout(2 * PIECE, PIECE, [sha256Hex(bytesOf(1)), ''], { allowUnknown: true }),
    ).not.toThrow();
    expect(() => validatePieceLayout(PIECE, PIECE, ['x'], { allowUnknown: true })).toThrow(
      ValidationError,
    );
  });
});

describe('parseTaskMeta and unknown digests', () => {
  const taskId = fakeTaskId(6);
  const known = sha256Hex(bytesOf(PIECE));
  function meta(overrides: Partial<TaskMeta>): string {
    const present = new PieceBitmap(2);
    present.add(0);
    return serializeTaskMeta({
      version: 1,
      taskId,
      contentLength: 2 * PIECE,
      pieceSize: PIECE,
      pieceCount: 2,
      pieceDigests: [known, ''],
      complete: false,
      presentPieces: present.toBase64(),
      createdAt: '2024-01-01T00:00:00.000Z',
      ...overrides,
    });
  }

  it('accepts a partial task lacking digests only for pieces it does not hold', () => {
    expect(parseTaskMeta(meta({}), taskId).pieceDigests).toEqual([known, '']);
  });

  it('rejects a partial task holding a piece without its digest', () => {
    expect(() => parseTaskMeta(meta({ pieceDigests: ['', known] }), taskId)).toThrow(/digest/);
  });

  it('rejects a complete task lacking any digest', () => {
    const text = meta({ complete: true, presentPieces: undefined });
    expect(() => parseTaskMeta(text, taskId)).toThrow(ValidationError);
    expect(
      parseTaskMeta(
        meta({ complete: true, presentPieces: undefined, pieceDigests: [known, known] }),
        taskId,
      ).complete,
    ).toBe(true);
  });
});
