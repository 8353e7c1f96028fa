import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkCompletedParts,
  checkPartNumber,
  multipartEtag,
  partEtagMd5,
} from '../../../lib/backends/multipart.ts';
import { UploadNotFoundError } from '../../../lib/backends/object-backend.ts';
import { translateOssError } from '../../../lib/backends/oss-errors.ts';
import { translateS3Error } from '../../../lib/backends/s3-errors.ts';
import { BackendError, NotFoundError, ValidationError } from '../../../lib/core/errors.ts';

const s3Error = (code: string, status: number) =>
  Object.assign(new Error(code), { name: code, Code: code, $metadata: { httpStatusCode: status } });
const ossError = (code: string, status: number) =>
  Object.assign(new Error(code), { code, status, params: { headers: { authorization: 'OSS x' } } });

describe('multipart part lists', () => {
  it('accepts ascending part numbers with ETags', () => {
    expect(() =>
      checkCompletedParts([
        { partNumber: 1, etag: '"a"' },
        { partNumber: 3, etag: 'b' },
      ]),
    ).not.toThrow();
  });

  it.each([
    ['no part', []],
    ['a repeated part', [1, 1]],
    ['descending parts', [2, 1]],
    ['part 0', [0]],
    ['part 10001', [10_001]],
    ['a fractional part', [1.5]],
  ])('refuses %s', (_, numbers) => {
    const parts = numbers.map((partNumber) => ({ partNumber, etag: '"e"' }));
    expect(() => checkCompletedParts(parts)).toThrow(ValidationError);
  });

  it('refuses a part without ETag and bad part numbers', () => {
    expect(() => checkCompletedParts([{ partNumber: 1, etag: ' ' }])).toThrow(ValidationError);
    expect(() => checkPartNumber(Number.NaN)).toThrow(ValidationError);
    expect(() => checkPartNumber(10_000)).not.toThrow();
  });

  it('reads part ETags quoted or not, in either case', () => {
    const hex = '9e107d9d372bb6826bd81d3542a419d6';
    expect(partEtagMd5(`"${hex}"`)).toBe(hex);
    expect(partEtagMd5(hex.toUpperCase())).toBe(hex);
    expect(partEtagMd5('"abc-2"')).toBeUndefined();
  });

  it('computes the S3 multipart ETag from the part md5s', () => {
    // md5 over the binary part digests, concatenated, then the part count.
    const binary = Buffer.concat([Buffer.alloc(16, 0x00), Buffer.alloc(16, 0xff)]);
    const expected = createHash('md5').update(binary).digest('hex');
    expect(multipartEtag(['00'.repeat(16), 'ff'.repeat(16)])).toBe(`"${expected}-2"`);
  });
});

describe('multipart error translation', () => {
  it.each([
    ['s3', () => translateS3Error(s3Error('NoSuchUpload', 404), target)],
    ['oss', () => translateOssError(ossError('NoSuchUpload', 404), 'b', 'k', 'u-1')],
  ])('maps %s NoSuchUpload to UploadNotFoundError', (_, translate) => {
    const error = translate();
    expect(error).toBeInstanceOf(UploadNotFoundError);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as UploadNotFoundError).uploadId).toBe('u-1');
  });

  it.each(['InvalidPart', 'InvalidPartOrder', 'EntityTooSmall'])(
    'maps %s to a ValidationError naming the reason',
    (code) => {
      for (const error of [
        translateS3Error(s3Error(code, 400), target),
        translateOssError(ossError(code, 400), 'b', 'k', 'u-1'),
      ]) {
        expect(error).toBeInstanceOf(ValidationError);
        expect(error.message).toContain(code);
        expect(error.message).not.toContain('OSS x');
      }
    },
  );

  it('keeps other codes backend errors', () => {
    expect(translateS3Error(s3Error('toString', 400), target)).toBeInstanceOf(BackendError);
    expect(translateOssError(ossError('constructor', 400), 'b')).toBeInstanceOf(BackendError);
  });
});

const target = { operation: 'completeMultipartUpload', bucket: 'b', key: 'k', uploadId: 'u-1' };
