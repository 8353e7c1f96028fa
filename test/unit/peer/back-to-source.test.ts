import { PassThrough, Readable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ObjectBackend, ObjectMetadata } from '../../../lib/backends/object-backend.ts';
import { BackToSource } from '../../../lib/peer/back-to-source.ts';
import { noopLogger } from '../../../lib/storage/deps.ts';
import type { ObjectIndex } from '../../../lib/storage/object-index.ts';
import type { PieceStore } from '../../../lib/storage/piece-store.ts';
import { bytesOf, fakeTaskId } from '../storage/fixtures.ts';

// Backend faults during a back-to-source import: the body breaking before the cache opened
// its import, or the cache failing (a full disk), must neither crash the process nor stall
// the client's copy of the bytes.

const metadata = (size: number): ObjectMetadata =>
  ({
    key: 'k',
    contentLength: size,
    etag: '"e"',
    lastModified: new Date(0),
    digest: '',
    contentType: 'application/octet-stream',
  }) as unknown as ObjectMetadata;

function backendServing(body: Readable, size: number): ObjectBackend {
  return {
    getObject: async () => ({ metadata: metadata(size), body }),
  } as unknown as ObjectBackend;
}

const index = { get: () => undefined, set: async () => ({}) } as unknown as ObjectIndex;

/** A store whose import opens only after `opened` resolves, then fails or reads everything. */
function slowStore(opened: Promise<void>, fail?: Error): PieceStore {
  return {
    beginImport: async () => {
      await opened;
      if (fail) throw fail;
      return {
        write: async (source: AsyncIterable<Uint8Array>) => {
          for await (const _ of source);
        },
        commit: async () => ({ meta: {} }),
      };
    },
  } as unknown as PieceStore;
}

describe('BackToSource under faults', () => {
  it('a body that breaks before the cache import opens rejects the import, no uncaught error', async () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    const body = new PassThrough();
    const b2s = new BackToSource({ store: slowStore(opened), index, logger: noopLogger });
    const tee = await b2s.teeFromBackend(backendServing(body, 10), 'b', 'k', fakeTaskId(1));
    const clientError = new Promise<Error>((resolve) => tee.body.on('error', resolve));
    body.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    await tick();
    open();
    expect((await clientError).message).toBe('aborted');
    await expect(b2s.inFlight(fakeTaskId(1))).rejects.toThrow('aborted');
  });

  it('the client still gets every byte when the cache cannot take the object', async () => {
    const data = bytesOf(1024 * 1024);
    const noSpace = Object.assign(new Error('ENOSPC: no space left on device'), {
      code: 'ENOSPC',
    });
    const store = slowStore(Promise.resolve(), noSpace);
    const b2s = new BackToSource({ store, index, logger: noopLogger });
    const body = Readable.from([data.subarray(0, 512 * 1024), data.subarray(512 * 1024)]);
    const tee = await b2s.teeFromBackend(
      backendServing(body, data.length),
      'b',
      'k',
      fakeTaskId(2),
    );
    const chunks: Buffer[] = [];
    for await (const chunk of tee.body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('a failed warm-up releases the backend body', async () => {
    const noSpace = Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
    const body = new PassThrough();
    const b2s = new BackToSource({
      store: slowStore(Promise.resolve(), noSpace),
      index,
      logger: noopLogger,
    });
    await expect(b2s.warm(backendServing(body, 10), 'b', 'k', fakeTaskId(3))).rejects.toThrow(
      'ENOSPC',
    );
    expect(body.destroyed).toBe(true);
  });
});
