import { posix } from 'node:path';
import { DfstoreNotFoundError } from '../client/errors.ts';
import { type DfsUrl, formatDfsUrl, parseDfsUrl } from '../core/dfs-url.ts';
import { ValidationError } from '../core/errors.ts';

/**
 * `dfs://bucket/key`, also accepting a bucket alone (`dfs://bucket`, `dfs://bucket/`) with an
 * empty key, for commands that take a bucket or a prefix (ls, mb, cp into a "directory").
 */
export function parseDfsLocation(value: string): DfsUrl {
  return parseDfsUrl(value, { allowEmptyKey: true });
}

/** Whether a key names a "directory": empty (the bucket root) or ending in `/`. */
export function isDirectoryKey(key: string): boolean {
  return key === '' || key.endsWith('/');
}

/**
 * The key an upload lands on: a directory-like key gets the file's name appended (like
 * `aws s3 cp file s3://b/dir/`), any other key is used as given.
 */
export function uploadKey(key: string, fileName: string): string {
  return isDirectoryKey(key) ? `${key}${fileName}` : key;
}

/** A key as a prefix of "everything under it": `''` stays, otherwise it ends with `/`. */
export function directoryPrefix(key: string): string {
  return isDirectoryKey(key) ? key : `${key}/`;
}

export function baseName(key: string): string {
  return posix.basename(key);
}

export function dfsUrl(bucket: string, key: string): string {
  return formatDfsUrl({ bucket, key });
}

/** A clear message for a failed object operation: not-found names the object. */
export function describeObjectError(error: unknown, bucket: string, key: string): Error {
  if (error instanceof DfstoreNotFoundError) {
    const message =
      error.code === 'ERR_BUCKET_NOT_FOUND'
        ? `bucket ${bucket} not found`
        : `object ${dfsUrl(bucket, key)} not found`;
    return new ValidationError(message, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}
