import { describe, expect, it } from 'vitest';
import { isDfsUrl, parseDfsUrl } from '../../../lib/core/dfs-url.ts';
import { formatDigest, parseDigest, tryParseDigest } from '../../../lib/core/digest.ts';
import {
  BackendAuthError,
  BucketNotFoundError,
  IntegrityError,
  NotFoundError,
  ObjectNotFoundError,
  ValidationError,
} from '../../../lib/core/errors.ts';
import { validateBucketName, validateObjectKey } from '../../../lib/core/names.ts';
import { parseWriteMode, WriteMode } from '../../../lib/core/write-mode.ts';

describe('dfs URLs', () => {
  it('splits bucket and key', () => {
    expect(parseDfsUrl('dfs://bucket/dir/key.txt')).toEqual({
      bucket: 'bucket',
      key: 'dir/key.txt',
    });
    expect(parseDfsUrl('dfs://b/dir/')).toEqual({ bucket: 'b', key: 'dir/' });
    expect(parseDfsUrl('dfs://b/a%20b')).toEqual({ bucket: 'b', key: 'a b' });
    expect(isDfsUrl('dfs://b/k')).toBe(true);
    expect(isDfsUrl('./dfs/k')).toBe(false);
  });

  it.each(['dfs://bucket', 'dfs://bucket/', 'http://b/k', 'dfs:///k', 'not a url'])(
    'rejects %j with the upstream message',
    (value) => {
      expect(() => parseDfsUrl(value)).toThrow('invalid url, e.g. dfs://bucket_name/object_key');
    },
  );
});

describe('digests', () => {
  it('formats and parses md5 and sha256', () => {
    const md5 = 'd41d8cd98f00b204e9800998ecf8427e';
    expect(formatDigest('md5', md5.toUpperCase())).toBe(`md5:${md5}`);
    expect(parseDigest(`md5:${md5}`)).toEqual({ algorithm: 'md5', hex: md5 });
    expect(parseDigest(`sha256:${'a'.repeat(64)}`).algorithm).toBe('sha256');
  });

  it.each(['md5:xyz', 'md5', `sha1:${'a'.repeat(40)}`, `sha256:${'a'.repeat(63)}`, ':'])(
    'rejects %j',
    (value) => {
      expect(tryParseDigest(value)).toBeUndefined();
      expect(() => parseDigest(value)).toThrow(ValidationError);
    },
  );
});

describe('write modes', () => {
  it('parses 0, 1 and 2 and defaults to AsyncWriteBack', () => {
    expect(parseWriteMode('0')).toBe(WriteMode.AsyncWriteBack);
    expect(parseWriteMode('1')).toBe(WriteMode.WriteBack);
    expect(parseWriteMode('2')).toBe(WriteMode.Ephemeral);
    expect(parseWriteMode(undefined)).toBe(WriteMode.AsyncWriteBack);
  });

  it.each(['3', '-1', 'one', '1.0', ' 1'])('rejects %j with 422', (value) => {
    expect(() => parseWriteMode(value)).toThrow(ValidationError);
  });
});

describe('names', () => {
  it('accepts S3 bucket names and rejects others', () => {
    expect(validateBucketName('my-bucket.1')).toBe('my-bucket.1');
    for (const bad of ['ab', 'A-bucket', '-ab', 'a..b', '192.168.1.1', 'a_b', 'x'.repeat(64)]) {
      expect(() => validateBucketName(bad)).toThrow(ValidationError);
    }
  });

  it('rejects unsafe keys', () => {
    expect(validateObjectKey('a/b/')).toBe('a/b/');
    expect(validateObjectKey('/etc/passwd')).toBe('/etc/passwd');
    for (const bad of ['', '..', 'a/../b', './a', 'a/.', 'a\0b', 'x'.repeat(1025)]) {
      expect(() => validateObjectKey(bad)).toThrow(ValidationError);
    }
  });
});

describe('errors', () => {
  it('carry stable codes and statuses', () => {
    const notFound = new ObjectNotFoundError('b', 'k');
    expect(notFound).toBeInstanceOf(NotFoundError);
    expect(notFound).toMatchObject({
      code: 'ERR_OBJECT_NOT_FOUND',
      statusCode: 404,
      name: 'ObjectNotFoundError',
    });
    expect(notFound.message).toBe('Not Found');
    expect(new BucketNotFoundError('b')).toBeInstanceOf(NotFoundError);
    expect(new ValidationError('x')).toMatchObject({ statusCode: 422, exposeMessage: true });
    expect(new BackendAuthError('x')).toMatchObject({ statusCode: 500, exposeMessage: true });
    expect(new IntegrityError('x')).toMatchObject({ statusCode: 500, exposeMessage: false });
  });
});

describe('dfs URLs with dot segments', () => {
  it.each(['dfs://b/a/../k', 'dfs://b/./k', 'dfs://b/%2e%2e/k', 'dfs://b/k/..'])(
    'rejects %j instead of resolving it to another key',
    (value) => {
      expect(() => parseDfsUrl(value)).toThrow('no "." or ".." key segments');
    },
  );
});
