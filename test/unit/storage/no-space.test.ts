import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InsufficientStorageError } from '../../../lib/core/errors.ts';
import { noopLogger, systemClock } from '../../../lib/storage/deps.ts';
import { ImportWriter } from '../../../lib/storage/import-writer.ts';
import { asNoSpaceError, isNoSpace } from '../../../lib/storage/no-space.ts';
import { openPieceStore, type PieceStore } from '../../../lib/storage/piece-store.ts';
import { bytesOf, taskIdFor, useTempDirs } from './fixtures.ts';

// A full cache disk: writes fail with a 507 InsufficientStorageError, leave nothing behind, and
// make room (evicting unpinned tasks, never pinned ones) so a later write fits.

const tempDir = useTempDirs();
const enospc = () =>
  Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

async function put(store: PieceStore, key: string, size: number, pin = false) {
  const writer = await store.beginImport();
  await writer.write([bytesOf(size, key.length)]);
  return writer.commit(taskIdFor('b', key), { pin });
}

describe('no space left on the cache disk', () => {
  it('maps ENOSPC and EDQUOT to InsufficientStorageError (507, ERR_NO_SPACE)', () => {
    const mapped = asNoSpaceError(enospc());
    expect(mapped).toBeInstanceOf(InsufficientStorageError);
    expect(mapped).toMatchObject({ statusCode: 507, code: 'ERR_NO_SPACE', exposeMessage: true });
    expect(isNoSpace(Object.assign(new Error('quota'), { code: 'EDQUOT' }))).toBe(true);
    const other = new Error('EIO');
    expect(asNoSpaceError(other)).toBe(other);
  });

  it('an import that hits ENOSPC rejects with a 507, removes its staging files, asks for room', async () => {
    const stagingPath = join(await tempDir(), 'staging-1');
    await mkdir(stagingPath);
    const asked: number[] = [];
    const handle = {
      write: async () => {
        throw enospc();
      },
      close: async () => {},
    };
    const writer = new ImportWriter({
      stagingPath,
      handle: handle as never,
      options: { sizeHint: 5000 },
      install: async () => {
        throw new Error('not reached');
      },
      clock: systemClock,
      logger: noopLogger,
      onNoSpace: async (bytes) => {
        asked.push(bytes);
      },
    });
    const failure = await writer.write([bytesOf(5000)]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InsufficientStorageError);
    expect((failure as Error).cause).toMatchObject({ code: 'ENOSPC' });
    expect(asked).toEqual([5000]);
    await expect(readdir(stagingPath)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(writer.state).toBe('aborted');
  });

  it('makeRoom(force) evicts unpinned tasks, oldest first, and never pinned ones', async () => {
    const store = await openPieceStore({ dataDir: await tempDir() });
    const pinned = await put(store, 'pinned', 3000, true);
    const old = await put(store, 'old', 3000);
    const recent = await put(store, 'recent', 3000);
    await store.readPiece(recent.meta.taskId, 0);

    await store.makeRoom(1, { force: true }); // 1 B + the 1 MiB margin: everything unpinned

    expect(store.stat(pinned.meta.taskId)?.complete).toBe(true);
    expect(store.stat(old.meta.taskId)).toBeUndefined();
    expect(store.stat(recent.meta.taskId)).toBeUndefined();
    pinned.unpin?.();
    await store.close();
  });

  it('makeRoom without force leaves the cache alone while the disk has room', async () => {
    const store = await openPieceStore({ dataDir: await tempDir() });
    const kept = await put(store, 'kept', 3000);
    await store.makeRoom(4096);
    expect(store.stat(kept.meta.taskId)?.complete).toBe(true);
    await store.close();
  });
});
