import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ObjectBackend } from '../../../lib/backends/object-backend.ts';
import { BackendAuthError, BackendError } from '../../../lib/core/errors.ts';
import { writeTaskToBackendRetrying } from '../../../lib/peer/write-back.ts';
import { noopLogger } from '../../../lib/storage/deps.ts';
import type { ObjectIndex } from '../../../lib/storage/object-index.ts';
import type { PieceStore } from '../../../lib/storage/piece-store.ts';
import { fakeTaskId } from '../storage/fixtures.ts';

// WriteBack (mode 1) PUTs retry transient backend failures themselves: the S3 SDK never
// retries a streamed body, so one reset connection would otherwise fail the PUT.

const taskId = fakeTaskId(1);
const target = { taskId, bucket: 'b', key: 'k' };

function harness(failures: Error[]) {
  const reads: number[] = [];
  const bodies: string[] = [];
  const store = {
    stat: () => ({ complete: true, contentLength: 3, digest: 'md5:x' }),
    createReadStream: async () => {
      reads.push(reads.length);
      return Readable.from([Buffer.from('abc')]);
    },
  } as unknown as PieceStore;
  const index = { get: () => undefined, set: async () => ({}) } as unknown as ObjectIndex;
  const backend = {
    putObject: async (_b: string, _k: string, body: Readable) => {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      bodies.push(Buffer.concat(chunks).toString());
      const failure = failures.shift();
      if (failure) throw failure;
      return { etag: '"e"' };
    },
  } as unknown as ObjectBackend;
  const delays: number[] = [];
  const deps = { store, index, backend: () => backend, logger: noopLogger };
  const retry = { sleep: async (ms: number) => delays.push(ms), random: () => 0.5 };
  return { deps, retry, reads, bodies, delays };
}

describe('writeTaskToBackendRetrying', () => {
  it('retries transient backend failures, re-reading the task each time', async () => {
    const h = harness([new BackendError('s3 putObject b/k failed: InternalError (HTTP 500)')]);
    await expect(writeTaskToBackendRetrying(h.deps, target, h.retry)).resolves.toBe('"e"');
    expect(h.reads).toHaveLength(2);
    expect(h.bodies).toEqual(['abc', 'abc']);
    expect(h.delays).toEqual([100]);
  });

  it('gives up after the attempts, with the last error', async () => {
    const errors = [1, 2, 3].map((n) => new BackendError(`reset ${n}`));
    const h = harness([...errors]);
    await expect(writeTaskToBackendRetrying(h.deps, target, h.retry)).rejects.toThrow('reset 3');
    expect(h.bodies).toHaveLength(3);
    expect(h.delays).toEqual([100, 400]);
  });

  it('does not retry refusals', async () => {
    const h = harness([new BackendAuthError('s3 putObject b/k was refused: AccessDenied')]);
    await expect(writeTaskToBackendRetrying(h.deps, target, h.retry)).rejects.toThrow('refused');
    expect(h.bodies).toHaveLength(1);
  });
});
