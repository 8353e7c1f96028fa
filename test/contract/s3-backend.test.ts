import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, inject, it } from 'vitest';
import type { ObjectBackend } from '../../lib/backends/object-backend.ts';
import { createS3Backend } from '../../lib/backends/s3-backend.ts';
import { s3BackendConfigSchema } from '../../lib/config/backend-config.ts';
import { BackendAuthError, RangeNotSatisfiableError } from '../../lib/core/errors.ts';
import { readAll } from '../helpers/streams.ts';
import '../helpers/provided-context.ts';
import { testMultipartUploads } from './multipart.contract.ts';
import { type BackendFixture, testObjectBackend } from './object-backend.contract.ts';

// Against the run's Ceph RGW (test/helpers/global-setup.ts): a production S3 server that checks
// SigV4 signatures, so auth failures here are real.
const s3 = inject('s3');

function makeBackend(secretAccessKey = s3.secretAccessKey): ObjectBackend {
  return createS3Backend(
    s3BackendConfigSchema.parse({
      name: 's3',
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      accessKeyId: s3.accessKeyId,
      secretAccessKey,
    }),
  );
}

function newBucketName(): string {
  return `s3-test-${randomBytes(6).toString('hex')}`;
}

async function s3Fixture(): Promise<BackendFixture> {
  const backend = makeBackend();
  return {
    backend,
    async newBucket() {
      const bucket = newBucketName();
      await backend.createBucket(bucket);
      return bucket;
    },
  };
}

testObjectBackend('s3', s3Fixture);
testMultipartUploads('s3', s3Fixture);

describe('S3Backend against a SigV4-checking server', () => {
  const backend = makeBackend();
  const body = () => Readable.from([Buffer.from('secret bytes')]);

  it('rejects a wrong secret key with BackendAuthError on put and get', async () => {
    const bucket = newBucketName();
    await backend.createBucket(bucket);
    await backend.putObject(bucket, 'k', body(), { contentLength: 12 });
    const wrong = makeBackend(`${s3.secretAccessKey}x`);

    await expect(
      wrong.putObject(bucket, 'k2', body(), { contentLength: 12 }),
    ).rejects.toBeInstanceOf(BackendAuthError);
    await expect(wrong.putObject(bucket, 'k3', body())).rejects.toBeInstanceOf(BackendAuthError);
    await expect(wrong.getObject(bucket, 'k')).rejects.toBeInstanceOf(BackendAuthError);
    await expect(wrong.headObject(bucket, 'k')).rejects.toBeInstanceOf(BackendAuthError);
    const error = await wrong.getObject(bucket, 'k').catch((err: unknown) => err);
    expect(String((error as Error).message)).not.toContain(s3.secretAccessKey);
  });

  it('refuses a tampered presigned URL with 403', async () => {
    const bucket = newBucketName();
    await backend.createBucket(bucket);
    await backend.putObject(bucket, 'a.txt', body(), { contentLength: 12 });
    await backend.putObject(bucket, 'b.txt', body(), { contentLength: 12 });
    const url = new URL(
      await backend.presignUrl(bucket, 'a.txt', { method: 'GET', expiresIn: 60 }),
    );
    expect((await fetch(url)).status).toBe(200);

    const otherKey = new URL(url);
    otherKey.pathname = otherKey.pathname.replace(/a\.txt$/, 'b.txt');
    const longer = new URL(url);
    longer.searchParams.set('X-Amz-Expires', '3600');
    const signature = url.searchParams.get('X-Amz-Signature') ?? '';
    const forged = new URL(url);
    forged.searchParams.set(
      'X-Amz-Signature',
      `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`,
    );
    for (const tampered of [otherKey, longer, forged]) {
      const response = await fetch(tampered);
      await response.arrayBuffer();
      expect(response.status).toBe(403);
    }
  });

  it('reports the object size with a 416 and treats bytes=-0 as unsatisfiable', async () => {
    const bucket = newBucketName();
    await backend.createBucket(bucket);
    await backend.putObject(bucket, 'r', body(), { contentLength: 12 });
    for (const range of [{ start: 12 }, { suffix: 0 }]) {
      const error = await backend.getObject(bucket, 'r', { range }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(RangeNotSatisfiableError);
      expect((error as RangeNotSatisfiableError).size).toBe(12);
    }
  });

  it('copies keys with reserved characters and returns a quoted ETag', async () => {
    const bucket = newBucketName();
    await backend.createBucket(bucket);
    const source = 'a b/+plus%25/ü?#&=.txt';
    const put = await backend.putObject(bucket, source, body(), { contentLength: 12 });
    const copied = await backend.copyObject(bucket, source, `${source}.copy`);
    expect(copied.etag).toBe(put.etag);
    const got = await backend.getObject(bucket, `${source}.copy`);
    expect((await readAll(got.body)).toString()).toBe('secret bytes');
  });
});
