/**
 * Request paths of the dfstore API. Every key segment is percent-encoded on its own, so spaces,
 * `+`, `%`, `?`, `#` and unicode arrive intact and `/` keeps separating segments; the server
 * percent-decodes everything after `/objects/` (lib/api/object-path.ts). A trailing `/` is kept,
 * and a leading `/` in the key yields `/objects//…`, which the server reads back as that key.
 * The paths are sent as-is (never through WHATWG URL, which would resolve `.`/`..` segments and
 * silently address another key; the server rejects such keys with 422 instead).
 */
export function objectPath(bucket: string, key: string): string {
  return `/buckets/${encodeSegment(bucket)}/objects/${key.split('/').map(encodeSegment).join('/')}`;
}

export function bucketPath(bucket: string): string {
  return `/buckets/${encodeSegment(bucket)}`;
}

export function metadatasPath(bucket: string): string {
  return `/buckets/${encodeSegment(bucket)}/metadatas`;
}

/** A path plus a query string of the non-empty parameters (none → no `?`). */
export function withQuery(
  path: string,
  query: Record<string, string | number | undefined>,
): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') params.set(name, String(value));
  }
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

/** encodeURIComponent, plus the RFC 3986 sub-delims it leaves alone, for strict proxies. */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
