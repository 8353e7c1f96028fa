import { pipeline, Readable, Transform } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { ObjectBackend, ObjectMetadata } from '../../../lib/backends/object-backend.ts';
import { ConflictError, NotFoundError } from '../../../lib/core/errors.ts';
import { computePieceSize } from '../../../lib/core/piece-size.ts';
import { SourceFetcher, VersionChangedError } from '../../../lib/peer/source-fetch.ts';
import { taskIdForDigest, versionOf } from '../../../lib/peer/task-ids.ts';
import { openPieceStore, type PieceStore } from '../../../lib/storage/piece-store.ts';
import { readAll } from '../../helpers/streams.ts';
import { type TempFsBackend, tempFsBackend } from '../../helpers/temp-fs-backend.ts';
import {
  bytesOf,
  MiB,
  md5Digest,
  recordingLogger,
  sha256Hex,
  useTempDirs,
} from '../storage/fixtures.ts';

const tempDir = useTempDirs();
const BUCKET = 'source';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type BodyFilter = (body: Readable) => Readable;

/** The fs backend behind a wrapper that counts getObject calls and may rewrite bodies. */
async function setup() {
  const fs: TempFsBackend = await tempFsBackend();
  await fs.backend.createBucket(BUCKET);
  const store: PieceStore = await openPieceStore({ dataDir: await tempDir() });
  const gets: string[] = [];
  let filter: BodyFilter | undefined;
  let digests = true;
  /** Without `digest` the version is the ETag, as for objects other tools wrote. */
  const strip = (metadata: ObjectMetadata): ObjectMetadata =>
    digests ? metadata : { ...metadata, digest: undefined };
  const backend: ObjectBackend = {
    ...fs.backend,
    headObject: async (bucket, key) => strip(await fs.backend.headObject(bucket, key)),
    getObject: async (bucket, key, options) => {
      gets.push(key);
      const got = await fs.backend.getObject(bucket, key, options);
      return { ...got, metadata: strip(got.metadata), body: filter?.(got.body) ?? got.body };
    },
  };
  const logger = recordingLogger();
  let bytes = 0;
  const fetcher = new SourceFetcher({
    store,
    backend: () => backend,
    logger,
    onBytes: (n) => {
      bytes += n;
    },
  });
  cleanups.push(async () => {
    await fetcher.close();
    await store.close();
    await fs.remove();
  });
  /** Stores `data` under `key`; returns the request for its current version. */
  const put = async (key: string, data: Buffer) => {
    await fs.backend.putObject(BUCKET, key, Readable.from([data]), {
      contentType: 'application/x-test',
      digest: md5Digest(data),
    });
    const version = versionOf(await backend.headObject(BUCKET, key));
    const taskId = taskIdForDigest('fs', BUCKET, key, version, '');
    return { taskId, bucket: BUCKET, key, version };
  };
  return {
    store,
    fetcher,
    gets,
    logger,
    put,
    bytes: () => bytes,
    filterBodies: (next: BodyFilter | undefined) => {
      filter = next;
    },
    forgetDigests: () => {
      digests = false;
    },
  };
}

/** Passes the body on, but holds the first chunk past `bytes` until `open()`. */
function gate(bytes: number): { filter: BodyFilter; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { filter: (body) => through(body, bytes, (pass) => opened.then(pass)), open };
}

/** Passes `bytes` of the body on, then fails like a connection reset. */
function failAfter(bytes: number): BodyFilter {
  return (body) => through(body, bytes, (_pass, fail) => fail(new Error('connection reset')));
}

/** `body` piped through a transform that calls `past` for each chunk beyond `bytes`. */
function through(
  body: Readable,
  bytes: number,
  past: (pass: () => void, fail: (error: Error) => void) => void,
): Readable {
  let sent = 0;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const pass = () => {
        sent += chunk.length;
        callback(null, chunk);
      };
      if (sent + chunk.length > bytes) past(pass, callback);
      else pass();
    },
  });
  return pipeline(body, transform, () => {});
}

function piecesOf(data: Buffer): Buffer[] {
  const size = computePieceSize(data.length);
  return Array.from({ length: Math.ceil(data.length / size) }, (_, i) =>
    data.subarray(i * size, (i + 1) * size),
  );
}

describe('SourceFetcher', () => {
  it.each([
    ['an empty object', 0],
    ['a 1-byte object', 1],
    ['exactly one piece', 4 * MiB],
    ['several pieces and a short last one', 9 * MiB + 123],
  ])('fetches %s into a complete task with every piece digest', async (_name, size) => {
    const { store, fetcher, put, bytes } = await setup();
    const data = bytesOf(size, size + 1);
    const request = await put(`obj-${size}`, data);

    const fetch = await fetcher.fetch(request);
    await fetch.done;

    expect(fetch).toMatchObject({
      taskId: request.taskId,
      bucket: BUCKET,
      key: request.key,
      contentLength: size,
      pieceSize: computePieceSize(size),
      metadata: { contentLength: size, digest: md5Digest(data), contentType: 'application/x-test' },
    });
    expect(fetch.failure()).toBeUndefined();
    expect(store.stat(request.taskId)).toMatchObject({
      complete: true,
      digest: md5Digest(data),
      pieceDigests: piecesOf(data).map(sha256Hex),
      bucket: BUCKET,
      key: request.key,
      contentType: 'application/x-test',
    });
    expect((await readAll(await store.createReadStream(request.taskId))).equals(data)).toBe(true);
    expect(bytes()).toBe(size);
    expect(fetcher.inFlight(request.taskId)).toBeUndefined();
  });

  it('stores no object digest for a version known by its ETag', async () => {
    const { store, fetcher, put, forgetDigests } = await setup();
    forgetDigests();
    const request = await put('etag-only', bytesOf(100));
    expect(request.version).toMatch(/^etag:/);

    await (await fetcher.fetch(request)).done;

    const meta = store.stat(request.taskId);
    expect(meta?.complete).toBe(true);
    expect(meta?.digest).toBeUndefined();
    expect(`etag:${meta?.etag}`).toBe(request.version);
  });

  it('makes one backend request for concurrent fetches of one task', async () => {
    const { fetcher, put, gets } = await setup();
    const request = await put('shared', bytesOf(5 * MiB));

    const fetches = await Promise.all([1, 2, 3].map(() => fetcher.fetch(request)));

    expect(new Set(fetches).size).toBe(1);
    expect(fetcher.inFlight(request.taskId)).toBe(fetches[0]);
    await fetches[0]?.done;
    const again = await fetcher.fetch(request);
    await again.done;
    expect(gets).toEqual(['shared']);
  });

  it('refuses another version of the key and stores nothing', async () => {
    const { store, fetcher, put } = await setup();
    const request = await put('moved', bytesOf(10));
    await put('moved', bytesOf(11, 2));

    const rejection = fetcher.fetch(request);

    await expect(rejection).rejects.toBeInstanceOf(VersionChangedError);
    await expect(rejection).rejects.toBeInstanceOf(ConflictError);
    await expect(rejection).rejects.toMatchObject({
      code: 'ERR_VERSION_CHANGED',
      name: 'VersionChangedError',
      statusCode: 409,
    });
    expect(store.stat(request.taskId)).toBeUndefined();
    expect(fetcher.inFlight(request.taskId)).toBeUndefined();
  });

  it('passes on the backend NotFoundError, and retries on the next fetch', async () => {
    const { store, fetcher, gets } = await setup();
    const request = { taskId: 'a'.repeat(64), bucket: BUCKET, key: 'gone', version: 'etag:"x"' };

    await expect(fetcher.fetch(request)).rejects.toBeInstanceOf(NotFoundError);
    await expect(fetcher.fetch(request)).rejects.toBeInstanceOf(NotFoundError);

    expect(gets).toEqual(['gone', 'gone']);
    expect(store.stat(request.taskId)).toBeUndefined();
  });

  it('makes pieces downloadable while the backend is still sending the rest', async () => {
    const { store, fetcher, put, filterBodies } = await setup();
    const data = bytesOf(9 * MiB, 4);
    const request = await put('streamed', data);
    const held = gate(8 * MiB);
    filterBodies(held.filter);

    const fetch = await fetcher.fetch(request);
    expect(store.stat(request.taskId)?.pieceDigests).toHaveLength(3);
    await expect.poll(() => store.hasPiece(request.taskId, 1)).toBe(true);
    let settled = false;
    void fetch.done.then(() => {
      settled = true;
    });

    expect(store.hasPiece(request.taskId, 0)).toBe(true);
    expect(store.hasPiece(request.taskId, 2)).toBe(false);
    expect(store.stat(request.taskId)?.pieceDigests).toEqual([
      ...piecesOf(data).slice(0, 2).map(sha256Hex),
      '',
    ]);
    const piece = await store.readPiece(request.taskId, 1, { verify: true });
    expect(piece.equals(data.subarray(4 * MiB, 8 * MiB))).toBe(true);
    expect(settled).toBe(false);
    expect(fetcher.inFlight(request.taskId)).toBe(fetch);
    held.open();
    await fetch.done;
    expect(store.stat(request.taskId)?.complete).toBe(true);
  });

  it('fails `done` and removes the task when the body breaks off, then retries', async () => {
    const { store, fetcher, put, filterBodies, logger, gets } = await setup();
    const data = bytesOf(9 * MiB, 5);
    const request = await put('broken', data);
    filterBodies(failAfter(5 * MiB));

    const fetch = await fetcher.fetch(request);

    await expect(fetch.done).rejects.toThrow('connection reset');
    expect(fetch.failure()).toBe('connection reset');
    expect(store.stat(request.taskId)).toBeUndefined();
    expect(fetcher.inFlight(request.taskId)).toBeUndefined();
    expect(logger.lines).toContainEqual({
      level: 'warn',
      msg: 'back-to-source failed; removing the task',
    });
    filterBodies(undefined);
    await (await fetcher.fetch(request)).done;
    expect(gets).toEqual(['broken', 'broken']);
    expect((await readAll(await store.createReadStream(request.taskId))).equals(data)).toBe(true);
  });

  it('fails `done` when the body is shorter than announced', async () => {
    const { store, fetcher, put, filterBodies } = await setup();
    const request = await put('short', bytesOf(5 * MiB, 6));
    filterBodies((body) => body.pipe(truncate(MiB)));

    const fetch = await fetcher.fetch(request);

    await expect(fetch.done).rejects.toThrow(/ended after/);
    expect(store.stat(request.taskId)).toBeUndefined();
  });

  it('close() aborts fetches and keeps their partial tasks', async () => {
    const { store, fetcher, put, filterBodies } = await setup();
    const request = await put('shutdown', bytesOf(9 * MiB, 7));
    const held = gate(4 * MiB);
    filterBodies(held.filter);
    const fetch = await fetcher.fetch(request);
    await expect.poll(() => store.hasPiece(request.taskId, 0)).toBe(true);

    await fetcher.close();
    held.open();

    await expect(fetch.done).rejects.toBeDefined();
    expect(store.stat(request.taskId)?.complete).toBe(false);
    expect(store.hasPiece(request.taskId, 0)).toBe(true);
    await expect(fetcher.fetch(request)).rejects.toBeInstanceOf(ConflictError);
  });
});

/** Passes only the first `bytes` bytes on, then ends cleanly. */
function truncate(bytes: number): Transform {
  let left = bytes;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const keep = chunk.subarray(0, Math.max(0, left));
      left -= keep.length;
      callback(null, keep.length > 0 ? keep : undefined);
    },
  });
}
