import { createHash } from 'node:crypto';

/** Upstream's `UrlMeta` fields that take part in a v1 task ID. */
export interface TaskIdMeta {
  /** Query keys to drop before hashing, separated by `&`. */
  readonly filter?: string;
  readonly digest?: string;
  readonly range?: string;
  readonly tag?: string;
  readonly application?: string;
}

/**
 * Dragonfly's `TaskIDV1`: lower-case hex SHA-256 of the filtered URL followed by digest, range,
 * tag and application (empty parts skipped, no separators). Without `meta`, the raw URL is hashed.
 */
export function taskIdV1(url: string, meta?: TaskIdMeta): string {
  const hash = createHash('sha256');
  if (!meta) return hash.update(url).digest('hex');
  hash.update(filterUrlQuery(url, parseFilter(meta.filter)));
  for (const part of [meta.digest, meta.range, meta.tag, meta.application]) {
    if (part) hash.update(part);
  }
  return hash.digest('hex');
}

/** Splits a filter string on `&`; a blank filter is no filter. */
export function parseFilter(filter: string | undefined): string[] {
  if (!filter || filter.trim() === '') return [];
  return filter.split('&');
}

/**
 * Drops the query keys named in `filters` and re-encodes the rest sorted by key, as Go's
 * `url.Values.Encode` does. With no filters the URL is returned byte-identical.
 */
export function filterUrlQuery(url: string, filters: readonly string[]): string {
  if (filters.length === 0) return url;
  const hashAt = url.indexOf('#');
  const fragment = hashAt >= 0 ? url.slice(hashAt) : '';
  const beforeFragment = hashAt >= 0 ? url.slice(0, hashAt) : url;
  const queryAt = beforeFragment.indexOf('?');
  const base = queryAt >= 0 ? beforeFragment.slice(0, queryAt) : beforeFragment;
  const rawQuery = queryAt >= 0 ? beforeFragment.slice(queryAt + 1) : '';

  const hidden = new Set(filters);
  const values = new Map<string, string[]>();
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = goQueryUnescape(eq >= 0 ? pair.slice(0, eq) : pair);
    const value = goQueryUnescape(eq >= 0 ? pair.slice(eq + 1) : '');
    if (key === undefined || value === undefined || hidden.has(key)) continue;
    values.set(key, [...(values.get(key) ?? []), value]);
  }
  const query = [...values.keys()]
    .sort()
    .flatMap((key) =>
      (values.get(key) ?? []).map((v) => `${goQueryEscape(key)}=${goQueryEscape(v)}`),
    )
    .join('&');
  return `${base}${query ? `?${query}` : ''}${fragment}`;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest `%XX` upper-case. */
function goQueryEscape(s: string): string {
  // A lone UTF-16 surrogate has no UTF-8 form (encodeURIComponent throws): U+FFFD, as Buffer does.
  return encodeURIComponent(s.replace(LONE_SURROGATE, '\uFFFD'))
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Go's `url.QueryUnescape`; undefined for a malformed escape (Go drops such pairs). */
function goQueryUnescape(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
