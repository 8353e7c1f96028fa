import { createHash } from 'node:crypto';
import { readdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectBackend } from '../../../lib/backends/object-backend.ts';
import {
  BackendError,
  BucketNotFoundError,
  ConflictError,
  NotFoundError,
  ObjectNotFoundError,
  ValidationError,
} from '../../../lib/core/errors.ts';
import { readAll } from '../../helpers/streams.ts';
import {
  type TempFsBackend,
  tempFsBackend,
  walk,
  walkEntries,
} from '../../helpers/temp-fs-backend.ts';

const bytewise = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const body = (text: string | Buffer) => Readable.from([Buffer.from(text)]);
const text = async (backend: ObjectBackend, bucket: string, key: string) =>
  (await readAll((await backend.getObject(bucket, key)).body)).toString();

/** A stream that sends `chunks`, then fails. */
function failingBody(chunks: string[], error = new Error('client went away')): Readable {
  return Readable.from(
    (async function* () {
      for (const chunk of chunks) yield Buffer.from(chunk);
      throw error;
    })(),
  );
}

let fs: TempFsBackend;
let backend: ObjectBackend;
const bucket = 'unit-bucket';

beforeEach(async () => {
  fs = await tempFsBackend();
  backend = fs.backend;
  await backend.createBucket(bucket);
});
afterEach(async () => {
  await fs.remove();
});

/** Files under the bucket's staging/ and data/ directories. */
async function leftovers(): Promise<{ staging: string[]; data: string[] }> {
  const files = async (dir: string) =>
    (await walk(join(fs.root, bucket, dir))).filter((path) => basename(path).length > 2);
  return { staging: await files('staging'), data: await files('data') };
}

describe('fs backend: key safety', () => {
  it.each([
    ['..'],
    ['.'],
    ['a/../../b'],
    ['a/./b'],
    ['../x'],
    ['x/..'],
    ['nul\0byte'],
    [''],
    ['k'.repeat(1025)],
    ['\uD800 lone surrogate'],
  ])('rejects %j with a ValidationError and creates nothing', async (key) => {
    const before = await walk(fs.root);
    await expect(backend.putObject(bucket, key, body('x'))).rejects.toBeInstanceOf(ValidationError);
    await expect(backend.headObject(bucket, key)).rejects.toBeInstanceOf(ValidationError);
    expect(await walk(fs.root)).toEqual(before);
  });

  it.each([['..'], ['../escape'], ['UPPER'], ['a'], [''], ['a/b']])(
    'rejects bucket name %j',
    async (name) => {
      await expect(backend.createBucket(name)).rejects.toBeInstanceOf(ValidationError);
      await expect(backend.putObject(name, 'k', body('x'))).rejects.toBeInstanceOf(ValidationError);
      expect(await readdir(fs.parent)).toEqual(['root']);
    },
  );

  const oddKeys = [
    '/etc/passwd',
    '\\..\\x',
    '..\\..\\windows\\system32',
    '%2e%2e/x',
    '%2F..%2F',
    'a//b',
    '/',
    '//',
    ' ..',
    '...',
    '.hidden/.x',
    'CON',
    'ünïcødé/文件/😀.bin',
    'k'.repeat(1024),
    '/'.repeat(1024),
    'a/'.repeat(512),
    '😀'.repeat(256),
    `short/${'s'.repeat(300)}/tail`,
    'é'.repeat(300),
  ];

  it('stores odd keys inside the root and round-trips them', async () => {
    const passwd = await stat('/etc/passwd').catch(() => undefined);
    for (const [i, key] of oddKeys.entries()) {
      await backend.putObject(bucket, key, body(`value ${i}`));
    }
    for (const [i, key] of oddKeys.entries()) {
      expect((await backend.headObject(bucket, key)).key).toBe(key);
      expect(await text(backend, bucket, key)).toBe(`value ${i}`);
    }
    const listed = await backend.listObjects(bucket);
    expect(listed.objects.map((o) => o.key)).toEqual([...oddKeys].sort(bytewise));

    // Nothing beside the root; inside it only plain files and directories (no links to follow
    // out), every file resolving inside the root, every name within NAME_MAX.
    expect(await readdir(fs.parent)).toEqual(['root']);
    const rootReal = await realpath(fs.root);
    const entries = await walkEntries(fs.root);
    expect(entries.filter((entry) => entry.type !== 'file' && entry.type !== 'directory')).toEqual(
      [],
    );
    for (const { path, type } of entries) {
      expect(Buffer.byteLength(basename(path))).toBeLessThanOrEqual(255);
      if (type === 'file')
        expect((await realpath(path)).startsWith(`${rootReal}${sep}`)).toBe(true);
    }
    expect((await stat('/etc/passwd').catch(() => undefined))?.mtimeMs).toBe(passwd?.mtimeMs);

    for (const key of oddKeys) await backend.deleteObject(bucket, key);
    expect((await backend.listObjects(bucket)).objects).toEqual([]);
    expect(await walk(join(fs.root, bucket, 'keys'))).toEqual([]);
  });

  it('keeps a, a/ and a/b apart', async () => {
    await backend.putObject(bucket, 'a/b', body('child'));
    await backend.putObject(bucket, 'a', body('file'));
    await backend.putObject(bucket, 'a/', body('dir marker'));
    expect(await text(backend, bucket, 'a')).toBe('file');
    expect(await text(backend, bucket, 'a/')).toBe('dir marker');
    expect(await text(backend, bucket, 'a/b')).toBe('child');
    expect((await backend.listObjects(bucket)).objects.map((o) => o.key)).toEqual([
      'a',
      'a/',
      'a/b',
    ]);
    await backend.deleteObject(bucket, 'a/');
    expect(await text(backend, bucket, 'a/b')).toBe('child');
    await expect(backend.headObject(bucket, 'a/')).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('does not follow a tampered sidecar out of the bucket', async () => {
    await backend.putObject(bucket, 'k', body('x'));
    const sidecar = join(fs.root, bucket, 'keys', 'o6b');
    const record = JSON.parse(await readFile(sidecar, 'utf8'));
    await writeFile(sidecar, JSON.stringify({ ...record, dataId: '../../../../etc/passwd' }));
    await expect(backend.getObject(bucket, 'k')).rejects.toBeInstanceOf(BackendError);
    await writeFile(sidecar, '{not json');
    await expect(backend.headObject(bucket, 'k')).rejects.toBeInstanceOf(BackendError);
  });
});

describe('fs backend: atomic writes', () => {
  it('leaves nothing behind when the body stream fails', async () => {
    await expect(
      backend.putObject(bucket, 'broken', failingBody(['partial ', 'bytes'])),
    ).rejects.toBeInstanceOf(BackendError);
    await expect(backend.headObject(bucket, 'broken')).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect((await backend.listObjects(bucket)).objects).toEqual([]);
    expect(await leftovers()).toEqual({ staging: [], data: [] });
  });

  it('leaves nothing behind when the upload is aborted', async () => {
    const controller = new AbortController();
    const endless = new Readable({ read() {} });
    endless.push(Buffer.alloc(1024));
    const putting = backend.putObject(bucket, 'aborted', endless, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(putting).rejects.toMatchObject({ name: 'AbortError' });
    await expect(backend.headObject(bucket, 'aborted')).rejects.toBeInstanceOf(NotFoundError);
    expect(await leftovers()).toEqual({ staging: [], data: [] });
  });

  it('rejects a body shorter than contentLength and keeps the old version', async () => {
    await backend.putObject(bucket, 'k', body('old'));
    await expect(
      backend.putObject(bucket, 'k', body('new'), { contentLength: 10 }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(backend.putObject(bucket, 'k', failingBody(['ne']))).rejects.toThrow();
    expect(await text(backend, bucket, 'k')).toBe('old');
    expect((await leftovers()).data).toHaveLength(1);
    expect((await leftovers()).staging).toEqual([]);
  });

  it('computes md5 digest and ETag when no digest is given', async () => {
    const md5 = createHash('md5').update('digest me').digest('hex');
    const { etag } = await backend.putObject(bucket, 'd', body('digest me'));
    expect(etag).toBe(`"${md5}"`);
    expect(await backend.headObject(bucket, 'd')).toMatchObject({
      etag,
      digest: `md5:${md5}`,
      storageClass: 'STANDARD',
    });
  });

  it('serves a reader the version it opened while the key is overwritten', async () => {
    const first = Buffer.alloc(4 * 1024 * 1024, 1);
    const second = Buffer.alloc(3 * 1024 * 1024, 2);
    await backend.putObject(bucket, 'v', body(first));
    const reading = await backend.getObject(bucket, 'v');
    await backend.putObject(bucket, 'v', body(second));
    expect((await readAll(reading.body)).equals(first)).toBe(true);
    expect((await readAll((await backend.getObject(bucket, 'v')).body)).equals(second)).toBe(true);
    expect((await leftovers()).data).toHaveLength(1);
  });

  it('ends concurrent puts of one key with one whole version', async () => {
    const versions = Array.from({ length: 6 }, (_, i) => Buffer.alloc(256 * 1024 + i, 65 + i));
    await Promise.all(versions.map((v) => backend.putObject(bucket, 'race', body(v))));
    const final = await readAll((await backend.getObject(bucket, 'race')).body);
    expect(versions.some((v) => v.equals(final))).toBe(true);
    const head = await backend.headObject(bucket, 'race');
    expect(head.contentLength).toBe(final.length);
    expect(head.etag).toBe(`"${createHash('md5').update(final).digest('hex')}"`);
    expect(await leftovers()).toEqual({ staging: [], data: [expect.any(String)] });
  });

  it('copies onto a new key as its own version', async () => {
    await backend.putObject(bucket, 'src', body('copied'), { contentType: 'text/plain' });
    const { etag } = await backend.copyObject(bucket, 'src', 'dst/copy');
    await backend.putObject(bucket, 'src', body('changed'));
    expect(await text(backend, bucket, 'dst/copy')).toBe('copied');
    expect(await backend.headObject(bucket, 'dst/copy')).toMatchObject({
      etag,
      contentType: 'text/plain',
    });
  });
});

describe('fs backend: buckets', () => {
  it('raises BucketNotFoundError for every object operation on a missing bucket', async () => {
    const missing = 'no-such-bucket';
    await expect(backend.getObject(missing, 'k')).rejects.toBeInstanceOf(BucketNotFoundError);
    await expect(backend.headObject(missing, 'k')).rejects.toBeInstanceOf(BucketNotFoundError);
    await expect(backend.putObject(missing, 'k', body('x'))).rejects.toBeInstanceOf(
      BucketNotFoundError,
    );
    await expect(backend.deleteObject(missing, 'k')).rejects.toBeInstanceOf(BucketNotFoundError);
    await expect(backend.copyObject(missing, 'a', 'b')).rejects.toBeInstanceOf(BucketNotFoundError);
    await expect(backend.listObjects(missing)).rejects.toBeInstanceOf(BucketNotFoundError);
    await expect(backend.deleteBucket(missing)).rejects.toBeInstanceOf(BucketNotFoundError);
  });

  it('deletes a bucket only when it is empty', async () => {
    await backend.putObject(bucket, 'deep/er/key', body('x'));
    await expect(backend.deleteBucket(bucket)).rejects.toBeInstanceOf(ConflictError);
    await backend.deleteObject(bucket, 'deep/er/key');
    await backend.deleteBucket(bucket);
    expect(await backend.bucketExists(bucket)).toBe(false);
    expect(await backend.listBuckets()).toEqual([]);
    expect(await readdir(fs.root)).not.toContain(bucket);
  });

  it('lists buckets by name with creation times', async () => {
    await backend.createBucket('zz-last');
    await backend.createBucket('aa-first');
    await backend.createBucket('aa-first');
    const buckets = await backend.listBuckets();
    expect(buckets.map((b) => b.name)).toEqual(['aa-first', bucket, 'zz-last']);
    expect(buckets[0]?.createdAt).toBeInstanceOf(Date);
  });

  it('reports name, region and a file:// endpoint', () => {
    expect(backend).toMatchObject({ name: 'fs', region: 'local' });
    expect(backend.endpoint).toBe(`file://${fs.root}`);
  });

  it('refuses to presign without presign config', async () => {
    await expect(backend.presignUrl(bucket, 'k', { method: 'GET', expiresIn: 60 })).rejects.toThrow(
      /presign\.baseUrl/,
    );
  });
});
