import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { IntegrityError, PayloadTooLargeError } from '../../../lib/core/errors.ts';
import { computePieceCount } from '../../../lib/core/piece-size.ts';
import { openPieceStore } from '../../../lib/storage/piece-store.ts';
import { patternStream, readAll, sha256OfPattern, sha256OfStream } from '../../helpers/streams.ts';
import { ls, MiB, md5Digest, md5OfPattern, taskIdFor, useTempDirs } from './fixtures.ts';

const tempDir = useTempDirs();

async function expectedPieces(size: number, seed: number, pieceSize: number): Promise<string[]> {
  const digests: string[] = [];
  for (let i = 0; i < computePieceCount(size, pieceSize); i++) {
    const start = i * pieceSize;
    digests.push(await sha256OfPattern(size, seed, start, Math.min(start + pieceSize, size) - 1));
  }
  return digests;
}

describe('piece store import', () => {
  it('imports a 9 MiB object in 4 MiB pieces with md5 and per-piece sha256', async () => {
    const dataDir = await tempDir();
    const store = await openPieceStore({ dataDir });
    const size = 9 * MiB;

    const writer = await store.beginImport({ sizeHint: size, contentType: 'application/x-test' });
    const result = await writer.write(patternStream(size, 42));
    const { meta, created } = await writer.commit(taskIdFor('bucket', 'nine'));

    expect(created).toBe(true);
    expect(result.digest).toBe(await md5OfPattern(size, 42));
    expect(meta).toMatchObject({
      contentLength: size,
      pieceSize: 4 * MiB,
      pieceCount: 3,
      digest: result.digest,
      contentType: 'application/x-test',
      etag: `"${result.digest.slice(4)}"`,
      complete: true,
    });
    expect(meta.pieceDigests).toEqual(await expectedPieces(size, 42, 4 * MiB));
    expect(store.stat(meta.taskId)).toEqual(meta);
    const onDisk = JSON.parse(
      await readFile(
        join(dataDir, 'tasks', meta.taskId.slice(0, 3), meta.taskId, 'meta.json'),
        'utf8',
      ),
    );
    expect(onDisk).toEqual(meta);
    expect(await sha256OfStream(await store.createReadStream(meta.taskId))).toBe(
      await sha256OfPattern(size, 42),
    );
    expect(await ls(join(dataDir, 'staging'))).toEqual([]);
    await store.close();
  });

  it('re-hashes the pieces when the size hint picked the wrong piece size', async () => {
    const dataDir = await tempDir();
    const store = await openPieceStore({ dataDir });
    const size = 9 * MiB + 123;

    // A 1 GiB hint means 12 MiB pieces; 9 MiB really needs 4 MiB pieces.
    const writer = await store.beginImport({ sizeHint: 1024 * MiB });
    const result = await writer.write(patternStream(size, 5));

    expect(result.pieceSize).toBe(4 * MiB);
    expect(result.pieceDigests).toEqual(await expectedPieces(size, 5, 4 * MiB));
    expect(result.digest).toBe(await md5OfPattern(size, 5));
    const { meta } = await writer.commit(taskIdFor('bucket', 'rehash'));
    expect(meta.pieceCount).toBe(3);
    await store.close();
  });

  it('serves ranges and single pieces of a committed task', async () => {
    const store = await openPieceStore({ dataDir: await tempDir() });
    const size = 5 * MiB;
    const writer = await store.beginImport();
    await writer.write(patternStream(size, 9));
    const { meta } = await writer.commit(taskIdFor('b', 'k'));

    const range = await store.createReadStream(meta.taskId, { start: 100, end: 4 * MiB + 99 });
    expect(await sha256OfStream(range)).toBe(await sha256OfPattern(size, 9, 100, 4 * MiB + 99));
    const piece = await store.readPiece(meta.taskId, 1, { verify: true });
    expect(piece.length).toBe(MiB);
    expect(store.pinCount(meta.taskId)).toBe(0);
    await expect(store.createReadStream(meta.taskId, { start: size })).rejects.toMatchObject({
      statusCode: 416,
    });
    await store.close();
  });

  it('returns the existing task when the same content is committed twice', async () => {
    const dataDir = await tempDir();
    const store = await openPieceStore({ dataDir });
    const first = await store.beginImport();
    await first.write(patternStream(1000, 1));
    const one = await first.commit(taskIdFor('b', 'k'));

    const second = await store.beginImport();
    await second.write(patternStream(1000, 1));
    const two = await second.commit(taskIdFor('b', 'k'), { pin: true });

    expect(two.created).toBe(false);
    expect(two.meta).toEqual(one.meta);
    expect(store.pinCount(one.meta.taskId)).toBe(1);
    two.unpin?.();
    expect(store.listTasks()).toHaveLength(1);
    expect(await ls(join(dataDir, 'staging'))).toEqual([]);
    await store.close();
  });

  it('imports an empty object', async () => {
    const store = await openPieceStore({ dataDir: await tempDir() });
    const writer = await store.beginImport();
    const result = await writer.write(Readable.from([]));
    const { meta } = await writer.commit(taskIdFor('b', 'empty'));

    expect(result.digest).toBe(md5Digest(Buffer.alloc(0)));
    expect(meta).toMatchObject({ contentLength: 0, pieceCount: 0, pieceDigests: [] });
    expect(await readAll(await store.createReadStream(meta.taskId))).toEqual(Buffer.alloc(0));
    await store.close();
  });

  it('leaves nothing behind on abort, stream errors and oversized bodies', async () => {
    const dataDir = await tempDir();
    const store = await openPieceStore({ dataDir });

    const aborted = await store.beginImport();
    await aborted.abort();

    const failing = await store.beginImport();
    const broken = new Readable({
      read() {
        this.push(Buffer.alloc(1000));
        this.destroy(new Error('client went away'));
      },
    });
    await expect(failing.write(broken)).rejects.toThrow('client went away');

    const tooBig = await store.beginImport({ maxBytes: MiB });
    await expect(tooBig.write(patternStream(2 * MiB, 3))).rejects.toBeInstanceOf(
      PayloadTooLargeError,
    );

    const wrongDigest = await store.beginImport({ expectedDigest: md5Digest(Buffer.from('x')) });
    await expect(wrongDigest.write(patternStream(10, 3))).rejects.toBeInstanceOf(IntegrityError);

    const badId = await store.beginImport();
    await badId.write(patternStream(10, 3));
    await expect(badId.commit(() => '../../etc')).rejects.toMatchObject({ statusCode: 422 });

    expect(await ls(join(dataDir, 'staging'))).toEqual([]);
    expect(await ls(join(dataDir, 'tasks'))).toEqual([]);
    expect(store.listTasks()).toEqual([]);
    await expect(tooBig.commit(taskIdFor('b', 'k'))).rejects.toMatchObject({ statusCode: 409 });
    await store.close();
  });
});
