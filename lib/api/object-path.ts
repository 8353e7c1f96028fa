import type { Context } from 'hono';
import { ValidationError } from '../core/errors.ts';
import { validateBucketName, validateObjectKey } from '../core/names.ts';

/** Node's IncomingMessage as @hono/node-server exposes it on `c.env`. */
interface NodeBindings {
  incoming?: { url?: string };
}

/**
 * The request path exactly as the client sent it. The WHATWG URL parser behind `c.req.url`
 * resolves `.`/`..` segments (also `%2e%2e`), which would silently turn `a/../b` into `b`; the
 * raw target lets us reject such keys instead.
 */
export function rawPathname(c: Context): string {
  const raw = (c.env as NodeBindings | undefined)?.incoming?.url;
  const target = raw ?? c.req.url.replace(/^[a-z]+:\/\/[^/]*/i, '');
  const queryAt = target.indexOf('?');
  return queryAt >= 0 ? target.slice(0, queryAt) : target;
}

/**
 * Bucket and key of `/buckets/:bucket/objects/*key`: the key is everything after `/objects/`,
 * percent-decoded (one leading `/` stripped, a trailing `/` kept), then validated.
 */
export function objectPath(c: Context): { bucket: string; key: string } {
  const match = /^\/buckets\/([^/]*)\/objects\/(.*)$/s.exec(rawPathname(c));
  if (!match) throw new ValidationError('invalid object path');
  return {
    bucket: validateBucketName(decode(match[1] ?? '')),
    key: validateObjectKey(decode(match[2] ?? '')),
  };
}

/** Bucket of `/buckets/:bucket[/...]`. */
export function bucketPath(c: Context): string {
  const match = /^\/buckets\/([^/]*)/.exec(rawPathname(c));
  return validateBucketName(decode(match?.[1] ?? ''));
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ValidationError('invalid percent-encoding in path');
  }
}

/**
 * Rejects a request whose raw path has a `.` or `..` segment (also percent-encoded), before
 * routing: routing sees the path with dot segments already resolved, so `objects/../metadatas`
 * would otherwise reach another route.
 */
export function assertNoDotSegments(c: Context): void {
  for (const segment of rawPathname(c).split('/')) {
    if (!segment.includes('.') && !/%2e/i.test(segment)) continue;
    const decoded = segment.replace(/%2e/gi, '.');
    if (decoded === '.' || decoded === '..') {
      throw new ValidationError('path contains a "." or ".." segment');
    }
  }
}
