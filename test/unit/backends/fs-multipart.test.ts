import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FsBackend } from '../../../lib/backends/fs-backend.ts';
import { UploadNotFoundError } from '../../../lib/backends/object-backend.ts';
import { ObjectNotFoundError, ValidationError } from '../../../lib/core/errors.ts';
import { readAll } from '../../helpers/streams.ts';
import { type TempFsBackend, tempFsBackend, walk } from '../../helpers/temp-fs-backend.ts';

const bucket = 'multipart-bucket';
const HOUR = 3600_000;
const body = (text: string) => Readable.from([Buffer.from(text)]);
const md5 = (text: string) => createHash('md5').update(text).digest('hex');

let now: Date;
let fs: TempFsBackend;
let backend: FsBackend;

beforeEach(async () => {
  now = new Date('2026-01-01T00:00:00Z');
  fs = await tempFsBackend({}, { clock: () => now });
  backend = fs.backend as FsBackend;
  await backend.createBucket(bucket);
});
afterEach(async () => {
  await fs.remove();
});

/** Paths under the bucket's uploads/ and staging/ directories, relative to the bucket. */
async function uploadFiles(): Promise<string[]> {
  const under = async (dir: string) => {
    const paths = await walk(join(fs.root, bucket, dir)).catch(() => []);
    return paths.map((path) => relative(join(fs.root, bucket), path));
  };
  return [...(await under('uploads')), ...(await under('staging'))];
}

describe('fs backend multipart uploads', () => {
  it('keeps an upload under uploads/<random id>, never under a name from the key', async () => {
    const key = 'reports/2026/q1.csv';
    const { uploadId } = await backend.createMultipartUpload(bucket, key, { digest: 'md5:x' });
    expect(uploadId).toMatch(/^[0-9a-f]{32}$/);
    const { etag } = await backend.uploadPart(bucket, key, uploadId, 1, body('one part'));
    expect(etag).toBe(`"${md5('one part')}"`);

    expect((await uploadFiles()).sort()).toEqual([
      join('uploads', uploadId),
      join('uploads', uploadId, '1'),
      join('uploads', uploadId, '1', md5('one part')),
      join('uploads', uploadId, 'upload.json'),
    ]);
    await backend.completeMultipartUpload(bucket, key, uploadId, [{ partNumber: 1, etag }]);
    expect(await uploadFiles()).toEqual([]);
    expect(await readAll((await backend.getObject(bucket, key)).body)).toEqual(
      Buffer.from('one part'),
    );
  });

  it('replaces a part uploaded again: only the newest ETag completes', async () => {
    const { uploadId } = await backend.createMultipartUpload(bucket, 'k');
    const first = await backend.uploadPart(bucket, 'k', uploadId, 1, body('first'));
    const second = await backend.uploadPart(bucket, 'k', uploadId, 1, body('second'));

    await expect(
      backend.completeMultipartUpload(bucket, 'k', uploadId, [{ partNumber: 1, ...first }]),
    ).rejects.toBeInstanceOf(ValidationError);
    await backend.completeMultipartUpload(bucket, 'k', uploadId, [{ partNumber: 1, ...second }]);
    expect((await readAll((await backend.getObject(bucket, 'k')).body)).toString()).toBe('second');
  });

  it('refuses a part whose body does not match its contentLength, keeping nothing', async () => {
    const { uploadId } = await backend.createMultipartUpload(bucket, 'k');
    await expect(
      backend.uploadPart(bucket, 'k', uploadId, 1, body('abc'), { contentLength: 4 }),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(await uploadFiles()).toEqual([
      join('uploads', uploadId),
      join('uploads', uploadId, 'upload.json'),
    ]);
  });

  it('refuses a part still streaming when its upload is aborted, leaving nothing', async () => {
    const { uploadId } = await backend.createMultipartUpload(bucket, 'k');
    const slow = new PassThrough();
    const part = backend.uploadPart(bucket, 'k', uploadId, 1, slow);
    slow.write('half a part');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await backend.abortMultipartUpload(bucket, 'k', uploadId);
    slow.end(' and the rest');

    await expect(part).rejects.toBeInstanceOf(UploadNotFoundError);
    expect(await uploadFiles()).toEqual([]);
  });

  it('lets exactly one of a racing complete and abort win', async () => {
    for (let round = 0; round < 5; round++) {
      const key = `race-${round}`;
      const { uploadId } = await backend.createMultipartUpload(bucket, key);
      const { etag } = await backend.uploadPart(bucket, key, uploadId, 1, body('raced'));
      const [completed] = await Promise.allSettled([
        backend.completeMultipartUpload(bucket, key, uploadId, [{ partNumber: 1, etag }]),
        backend.abortMultipartUpload(bucket, key, uploadId),
      ]);
      const head = backend.headObject(bucket, key);
      if (completed.status === 'fulfilled') await expect(head).resolves.toBeDefined();
      else {
        expect(completed.reason).toBeInstanceOf(UploadNotFoundError);
        await expect(head).rejects.toBeInstanceOf(ObjectNotFoundError);
      }
      expect(await uploadFiles()).toEqual([]);
    }
  });

  it('treats malformed upload ids as unknown, never as paths', async () => {
    for (const uploadId of ['../../keys', 'ABCDEF', '']) {
      await expect(backend.uploadPart(bucket, 'k', uploadId, 1, body('x'))).rejects.toBeInstanceOf(
        UploadNotFoundError,
      );
      await expect(
        backend.presignUploadPart(bucket, 'k', uploadId, 1, { expiresInSeconds: 60 }),
      ).rejects.toBeInstanceOf(UploadNotFoundError);
      await backend.abortMultipartUpload(bucket, 'k', uploadId);
    }
  });
});

describe('fs backend sweepStaleUploads', () => {
  it('removes uploads older than the limit by the backend clock, with their parts', async () => {
    const old = await backend.createMultipartUpload(bucket, 'old');
    await backend.uploadPart(bucket, 'old', old.uploadId, 1, body('stale part'));
    const other = 'other-bucket';
    await backend.createBucket(other);
    const oldElsewhere = await backend.createMultipartUpload(other, 'old');
    now = new Date(now.getTime() + 2 * HOUR);
    const recent = await backend.createMultipartUpload(bucket, 'recent');
    now = new Date(now.getTime() + HOUR);

    expect(await backend.sweepStaleUploads(2.5 * HOUR)).toBe(2);

    const { etag } = await backend.uploadPart(bucket, 'recent', recent.uploadId, 1, body('ok'));
    await backend.completeMultipartUpload(bucket, 'recent', recent.uploadId, [
      { partNumber: 1, etag },
    ]);
    await expect(
      backend.uploadPart(bucket, 'old', old.uploadId, 2, body('x')),
    ).rejects.toBeInstanceOf(UploadNotFoundError);
    await expect(
      backend.uploadPart(other, 'old', oldElsewhere.uploadId, 1, body('x')),
    ).rejects.toBeInstanceOf(UploadNotFoundError);
    expect(await readdir(join(fs.root, bucket, 'uploads'))).toEqual([]);
    expect(await backend.sweepStaleUploads(0)).toBe(0);
  });

  it('refuses a negative age', async () => {
    await expect(backend.sweepStaleUploads(-1)).rejects.toBeInstanceOf(ValidationError);
  });
});
