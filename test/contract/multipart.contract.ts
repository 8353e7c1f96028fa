import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CompletedPart,
  MIN_PART_SIZE,
  type ObjectBackend,
  UploadNotFoundError,
} from '../../lib/backends/object-backend.ts';
import { NotFoundError, ObjectNotFoundError, ValidationError } from '../../lib/core/errors.ts';
import { readAll } from '../helpers/streams.ts';
import type { BackendFixture } from './object-backend.contract.ts';

const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex');
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** S3's multipart ETag, computed here independently of the adapters. */
function expectedMultipartEtag(parts: readonly Buffer[]): string {
  const hash = createHash('md5');
  for (const part of parts) hash.update(createHash('md5').update(part).digest());
  return `"${hash.digest('hex')}-${parts.length}"`;
}

/** Distinct, non-repeating bytes per part, so a part in the wrong place shows. */
function partBytes(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size, seed);
  for (let i = 0; i + 4 <= size; i += 4)
    bytes.writeUInt32LE(Math.imul(i + seed, 0x9e3779b1) >>> 0, i);
  return bytes;
}

/** A PUT from a plain HTTP client (undici's fetch): no SDK, no credentials, no Content-Type. */
async function putPart(url: string, body: Buffer): Promise<{ status: number; etag: string }> {
  const response = await fetch(url, { method: 'PUT', body });
  await response.arrayBuffer();
  return { status: response.status, etag: response.headers.get('etag') ?? '' };
}

/**
 * The multipart session half of the ObjectBackend contract (create → presigned part PUTs by a
 * plain HTTP client → complete or abort), run against every adapter like testObjectBackend.
 */
export function testMultipartUploads(name: string, setup: () => Promise<BackendFixture>): void {
  describe(`ObjectBackend multipart contract: ${name}`, () => {
    let fixture: BackendFixture;
    let backend: ObjectBackend;
    let bucket: string;

    beforeAll(async () => {
      fixture = await setup();
      backend = fixture.backend;
      bucket = await fixture.newBucket();
    });
    afterAll(async () => {
      await fixture?.close?.();
    });

    const presign = (key: string, uploadId: string, partNumber: number, expiresInSeconds = 300) =>
      backend.presignUploadPart(bucket, key, uploadId, partNumber, { expiresInSeconds });

    /** Uploads `parts` (numbered from 1) in parallel through presigned URLs. */
    async function uploadParts(key: string, uploadId: string, parts: readonly Buffer[]) {
      return Promise.all(
        parts.map(async (part, index): Promise<CompletedPart> => {
          const partNumber = index + 1;
          const { status, etag } = await putPart(await presign(key, uploadId, partNumber), part);
          expect(status).toBe(200);
          expect(etag.toLowerCase()).toBe(`"${md5(part)}"`);
          return { partNumber, etag };
        }),
      );
    }

    it('completes 5 MiB parts and a short last part into one object with its digest', async () => {
      const key = 'multipart/big parts.bin';
      const parts = [partBytes(MIN_PART_SIZE, 1), partBytes(MIN_PART_SIZE, 2), partBytes(1234, 3)];
      const whole = Buffer.concat(parts);
      const digest = `md5:${md5(whole)}`;
      const { uploadId } = await backend.createMultipartUpload(bucket, key, {
        contentType: 'application/x-parts',
        digest,
      });
      expect(uploadId).toBeTruthy();

      const completed = await uploadParts(key, uploadId, parts);
      await expect(backend.headObject(bucket, key)).rejects.toBeInstanceOf(ObjectNotFoundError);
      const { etag } = await backend.completeMultipartUpload(bucket, key, uploadId, completed);

      expect(etag.toLowerCase()).toBe(expectedMultipartEtag(parts));
      const head = await backend.headObject(bucket, key);
      expect(head).toMatchObject({
        contentLength: whole.length,
        contentType: 'application/x-parts',
        digest,
        etag,
      });
      const got = await backend.getObject(bucket, key);
      expect(got.metadata).toMatchObject({ contentLength: whole.length, digest, etag });
      expect(sha256(await readAll(got.body))).toBe(sha256(whole));
    });

    it('refuses tampered and expired part URLs with 403', async () => {
      const key = 'multipart/refused.bin';
      const { uploadId } = await backend.createMultipartUpload(bucket, key);
      const url = new URL(await presign(key, uploadId, 1));
      const partParam = [...url.searchParams.keys()].find((n) =>
        /^(x-dfstore-)?part-?number$/i.test(n),
      );
      expect(partParam).toBeDefined();

      const otherPart = new URL(url);
      otherPart.searchParams.set(partParam ?? '', '2');
      const otherKey = new URL(url);
      otherKey.pathname = otherKey.pathname.replace(/refused\.bin$/, 'other.bin');
      for (const tampered of [otherPart, otherKey]) {
        expect((await putPart(tampered.href, Buffer.from('part'))).status).toBe(403);
      }

      const shortLived = await presign(key, uploadId, 1, 1);
      await sleep(2500);
      expect((await putPart(shortLived, Buffer.from('late'))).status).toBe(403);
      expect((await putPart(url.href, Buffer.from('in time'))).status).toBe(200);
      await backend.abortMultipartUpload(bucket, key, uploadId);
    });

    it('refuses a wrong ETag, storing nothing and keeping the upload open', async () => {
      const key = 'multipart/wrong-etag.bin';
      const part = partBytes(4096, 4);
      const { uploadId } = await backend.createMultipartUpload(bucket, key);
      const [uploaded] = await uploadParts(key, uploadId, [part]);
      const wrong = { partNumber: 1, etag: `"${md5(Buffer.from('something else'))}"` };

      await expect(
        backend.completeMultipartUpload(bucket, key, uploadId, [wrong]),
      ).rejects.toBeInstanceOf(ValidationError);
      await expect(backend.headObject(bucket, key)).rejects.toBeInstanceOf(ObjectNotFoundError);

      await backend.completeMultipartUpload(bucket, key, uploadId, uploaded ? [uploaded] : []);
      const got = await backend.getObject(bucket, key);
      expect(sha256(await readAll(got.body))).toBe(sha256(part));
    });

    it('refuses parts below the minimum size unless last, and badly ordered lists', async () => {
      const key = 'multipart/small.bin';
      const { uploadId } = await backend.createMultipartUpload(bucket, key);
      const completed = await uploadParts(key, uploadId, [partBytes(1024, 5), partBytes(10, 6)]);

      await expect(
        backend.completeMultipartUpload(bucket, key, uploadId, completed),
      ).rejects.toBeInstanceOf(ValidationError);
      await expect(
        backend.completeMultipartUpload(bucket, key, uploadId, [...completed].reverse()),
      ).rejects.toBeInstanceOf(ValidationError);
      await expect(
        backend.completeMultipartUpload(bucket, key, uploadId, []),
      ).rejects.toBeInstanceOf(ValidationError);
      await expect(backend.headObject(bucket, key)).rejects.toBeInstanceOf(ObjectNotFoundError);
      await backend.abortMultipartUpload(bucket, key, uploadId);
    });

    it('aborts idempotently; an aborted upload cannot complete or take parts', async () => {
      const key = 'multipart/aborted.bin';
      const { uploadId } = await backend.createMultipartUpload(bucket, key);
      const completed = await uploadParts(key, uploadId, [partBytes(100, 7)]);

      await backend.abortMultipartUpload(bucket, key, uploadId);
      await backend.abortMultipartUpload(bucket, key, uploadId);

      const error = await backend
        .completeMultipartUpload(bucket, key, uploadId, completed)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UploadNotFoundError);
      expect(error).toBeInstanceOf(NotFoundError);
      await expect(backend.headObject(bucket, key)).rejects.toBeInstanceOf(ObjectNotFoundError);
      expect((await putPart(await presign(key, uploadId, 2), Buffer.from('late'))).status).toBe(
        404,
      );
    });

    it('binds an upload to its key and checks part numbers and expiries', async () => {
      const key = 'multipart/bound.bin';
      const { uploadId } = await backend.createMultipartUpload(bucket, key);
      const completed = await uploadParts(key, uploadId, [partBytes(100, 8)]);

      await expect(
        backend.completeMultipartUpload(bucket, 'multipart/other.bin', uploadId, completed),
      ).rejects.toBeInstanceOf(UploadNotFoundError);
      await expect(
        backend.completeMultipartUpload(bucket, key, 'no-such-upload', completed),
      ).rejects.toBeInstanceOf(UploadNotFoundError);
      for (const partNumber of [0, 10_001, 1.5]) {
        await expect(presign(key, uploadId, partNumber)).rejects.toBeInstanceOf(ValidationError);
      }
      await expect(presign(key, uploadId, 1, 0)).rejects.toBeInstanceOf(ValidationError);

      // The other key's abort must not touch this upload.
      await backend.abortMultipartUpload(bucket, 'multipart/other.bin', uploadId);
      await backend.completeMultipartUpload(bucket, key, uploadId, completed);
      expect((await backend.headObject(bucket, key)).contentLength).toBe(100);
    });
  });
}
