import { ValidationError } from './errors.ts';

/** Longest key we accept; S3 and OSS both cap keys at 1024 bytes. */
export const MAX_KEY_BYTES = 1024;

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * S3 bucket naming rules (3-63 chars of `[a-z0-9.-]`, starting and ending with a letter or digit,
 * no `..`, not an IPv4 address). Throws ValidationError (422) otherwise.
 */
export function validateBucketName(bucket: string): string {
  if (!BUCKET_RE.test(bucket) || bucket.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(bucket)) {
    throw new ValidationError(`invalid bucket name ${JSON.stringify(bucket)}`);
  }
  return bucket;
}

/**
 * Object keys: non-empty, at most 1024 UTF-8 bytes, no NUL, no `.` or `..` path segment.
 * A trailing `/` is allowed (it names a "directory" object). Throws ValidationError (422).
 */
export function validateObjectKey(key: string): string {
  if (key === '') throw new ValidationError('object key is required');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new ValidationError(`object key is longer than ${MAX_KEY_BYTES} bytes`);
  }
  if (key.includes('\0')) throw new ValidationError('object key contains NUL');
  if (key.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw new ValidationError('object key contains a "." or ".." path segment');
  }
  return key;
}
