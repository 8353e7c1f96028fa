import { ValidationError } from './errors.ts';

/** A `dfs://bucket/key` URL split into its bucket and (non-empty) key. */
export interface DfsUrl {
  readonly bucket: string;
  readonly key: string;
}

export const DFS_SCHEME = 'dfs:';
export const INVALID_DFS_URL_MESSAGE = 'invalid url, e.g. dfs://bucket_name/object_key';

/** Whether a CLI argument names a dfs object (scheme `dfs`), as opposed to a local path. */
export function isDfsUrl(value: string): boolean {
  return /^dfs:\/\//i.test(value);
}

/**
 * Parses `dfs://bucket/key`: host = bucket, path without its leading `/` = key (kept
 * percent-decoded, a trailing `/` kept). Throws ValidationError with upstream's message otherwise.
 * `allowEmptyKey` accepts a bucket alone (`dfs://bucket`, `dfs://bucket/`) with key ''.
 */
export function parseDfsUrl(value: string, options: { allowEmptyKey?: boolean } = {}): DfsUrl {
  // The URL parser strips leading/trailing spaces and controls and drops tabs and newlines
  // anywhere: `dfs://b/a\tb` would silently address `ab`. Such values name no object.
  if (!isDfsUrl(value) || /\p{Cc}|\s$/u.test(value)) {
    throw new ValidationError(INVALID_DFS_URL_MESSAGE);
  }
  if (hasDotSegment(value)) {
    // The URL parser would resolve `a/../b` to `b` and silently address another object.
    throw new ValidationError(`${INVALID_DFS_URL_MESSAGE} (no "." or ".." key segments)`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ValidationError(INVALID_DFS_URL_MESSAGE);
  }
  if (url.protocol !== DFS_SCHEME || url.hostname === '') {
    throw new ValidationError(INVALID_DFS_URL_MESSAGE);
  }
  let key: string;
  try {
    key = decodeURIComponent(url.pathname.replace(/^\//, ''));
  } catch {
    throw new ValidationError(INVALID_DFS_URL_MESSAGE);
  }
  if (key === '' && !options.allowEmptyKey) throw new ValidationError(INVALID_DFS_URL_MESSAGE);
  return { bucket: url.hostname, key };
}

/** Formats `dfs://bucket/key`, percent-encoding each key segment. */
export function formatDfsUrl({ bucket, key }: DfsUrl): string {
  return `dfs://${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** Whether the path of a URL-like string has a `.` or `..` segment (also percent-encoded). */
export function hasDotSegment(value: string): boolean {
  const path = value.replace(/^[a-z]+:\/\/[^/?#]*/i, '').replace(/[?#].*$/s, '');
  return path.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment));
}
