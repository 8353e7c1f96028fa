import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOssBackend } from '../../lib/backends/oss-backend.ts';
import { type OssBackendConfig, ossBackendConfigSchema } from '../../lib/config/backend-config.ts';
import { BackendAuthError, ValidationError } from '../../lib/core/errors.ts';
import { type OssServer, startOssServer } from '../helpers/oss-server/server.ts';
import { patternStream, sha256OfPattern, sha256OfStream } from '../helpers/streams.ts';
import { testMultipartUploads } from './multipart.contract.ts';
import { type BackendFixture, testObjectBackend } from './object-backend.contract.ts';

const credentials = { accessKeyId: 'LTAItestkey0001', accessKeySecret: 'oss-test-secret-0001' };
let server: OssServer;
let buckets = 0;

beforeAll(async () => {
  server = await startOssServer(credentials);
});
afterAll(async () => {
  await server?.close();
});

function ossBackend(overrides: Partial<OssBackendConfig> = {}) {
  const config = ossBackendConfigSchema.parse({
    name: 'oss',
    region: 'oss-cn-hangzhou',
    endpoint: server.endpoint,
    sldEnable: true,
    ...credentials,
    ...overrides,
  });
  return createOssBackend(config);
}

async function newBucket(backend = ossBackend()): Promise<string> {
  const name = `oss-contract-${process.pid}-${++buckets}`;
  await backend.createBucket(name);
  return name;
}

async function ossFixture(): Promise<BackendFixture> {
  const backend = ossBackend();
  return { backend, newBucket: () => newBucket(backend) };
}

testObjectBackend('oss', ossFixture);
testMultipartUploads('oss', ossFixture);

describe('oss backend specifics', () => {
  it('rejects a wrong secret or key id with BackendAuthError', async () => {
    const bucket = await newBucket();
    for (const wrong of [{ accessKeySecret: 'not-the-secret' }, { accessKeyId: 'LTAIunknown' }]) {
      const backend = ossBackend(wrong);
      await expect(backend.listObjects(bucket)).rejects.toBeInstanceOf(BackendAuthError);
      await expect(backend.headObject(bucket, 'k')).rejects.toBeInstanceOf(BackendAuthError);
      await expect(
        backend.putObject(bucket, 'k', Readable.from([Buffer.from('x')]), { contentLength: 1 }),
      ).rejects.toBeInstanceOf(BackendAuthError);
    }
  });

  it('never puts the secret or a signature in error messages', async () => {
    const backend = ossBackend({ accessKeySecret: 'not-the-secret' });
    const error = await backend.listObjects('any-bucket').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendAuthError);
    expect(String((error as Error).message)).not.toMatch(
      /not-the-secret|Signature=|OSS LTAI|OSSAccessKeyId|http:/,
    );
  });

  it('uploads in bounded parts, several in flight, byte-identical', async () => {
    const partSize = 128 * 1024;
    const backend = ossBackend({ multipartThreshold: partSize, partSize, parallel: 3 });
    const bucket = await newBucket(backend);
    const size = 9 * partSize + 7;
    const { etag } = await backend.putObject(bucket, 'parts.bin', patternStream(size, 3), {
      digest: 'md5:feedfeedfeedfeedfeedfeedfeedfeed',
    });
    expect(etag).toMatch(/^"[0-9A-F]{32}-10"$/);
    const got = await backend.getObject(bucket, 'parts.bin');
    expect(got.metadata).toMatchObject({ contentLength: size, etag });
    expect(got.metadata.digest).toBe('md5:feedfeedfeedfeedfeedfeedfeedfeed');
    expect(await sha256OfStream(got.body)).toBe(await sha256OfPattern(size, 3));
  });

  it('sends a small body of unknown length as one PutObject', async () => {
    const backend = ossBackend();
    const bucket = await newBucket(backend);
    const { etag } = await backend.putObject(bucket, 'small', Readable.from([Buffer.from('abc')]));
    expect(etag).toBe('"900150983CD24FB0D6963F7D28E17F72"');
  });

  it('refuses a body that does not match its contentLength, storing nothing', async () => {
    const partSize = 128 * 1024;
    const backend = ossBackend({ multipartThreshold: partSize, partSize });
    const bucket = await newBucket(backend);
    const short = backend.putObject(bucket, 'short', patternStream(1000), { contentLength: 1001 });
    await expect(short).rejects.toBeInstanceOf(ValidationError);
    const long = backend.putObject(bucket, 'long', patternStream(3 * partSize), {
      contentLength: 2 * partSize,
    });
    await expect(long).rejects.toBeInstanceOf(ValidationError);
    expect((await backend.listObjects(bucket)).objects).toEqual([]);
  });

  it('signs part URLs over their uploadId and partNumber sub-resources', async () => {
    const backend = ossBackend();
    const bucket = await newBucket(backend);
    const mine = await backend.createMultipartUpload(bucket, 'part.bin');
    const theirs = await backend.createMultipartUpload(bucket, 'part.bin');
    const url = new URL(
      await backend.presignUploadPart(bucket, 'part.bin', mine.uploadId, 1, {
        expiresInSeconds: 60,
      }),
    );
    const otherUpload = new URL(url);
    otherUpload.searchParams.set('uploadId', theirs.uploadId);
    const noPart = new URL(url);
    noPart.searchParams.delete('partNumber');
    for (const tampered of [otherUpload, noPart]) {
      const response = await fetch(tampered, { method: 'PUT', body: Buffer.from('x') });
      expect(response.status).toBe(403);
      expect(await response.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    }
    const response = await fetch(url, { method: 'PUT', body: Buffer.from('x') });
    expect(response.status).toBe(200);
    await backend.abortMultipartUpload(bucket, 'part.bin', mine.uploadId);
    await backend.abortMultipartUpload(bucket, 'part.bin', theirs.uploadId);
  });

  it('serves concurrent requests to different buckets from one client', async () => {
    const backend = ossBackend();
    const names = await Promise.all([1, 2, 3, 4].map(() => newBucket(backend)));
    await Promise.all(
      names.map((bucket) => backend.putObject(bucket, 'who', Readable.from([Buffer.from(bucket)]))),
    );
    const heads = await Promise.all(names.map((bucket) => backend.headObject(bucket, 'who')));
    expect(heads.map((head) => head.contentLength)).toEqual(names.map((name) => name.length));
  });
});
