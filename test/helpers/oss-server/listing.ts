import { compareBytes, type ObjectRecord } from './store.ts';

export interface ListQuery {
  readonly prefix: string;
  /** List only entries after this key or common prefix (byte order). */
  readonly marker: string;
  readonly delimiter: string;
  readonly maxKeys: number;
}

export interface ListPage {
  readonly objects: ObjectRecord[];
  readonly prefixes: string[];
  readonly isTruncated: boolean;
  /** The last key or common prefix of the page, when truncated. */
  readonly nextMarker?: string;
}

/**
 * ListObjects (v1) semantics: keys in UTF-8 byte order, filtered by prefix, after the marker;
 * with a delimiter, keys sharing the part up to the next delimiter roll up into one common
 * prefix, which counts as one entry and sorts at its own name (so a marker equal to a returned
 * common prefix resumes after all keys under it). Objects and prefixes share `maxKeys`.
 */
export function listPage(records: Iterable<ObjectRecord>, query: ListQuery): ListPage {
  const { prefix, marker, delimiter, maxKeys } = query;
  const sorted = [...records]
    .filter((record) => record.key.startsWith(prefix) && compareBytes(record.key, marker) > 0)
    .sort((a, b) => compareBytes(a.key, b.key));
  const objects: ObjectRecord[] = [];
  const prefixes: string[] = [];
  let last: string | undefined;
  for (const record of sorted) {
    const cut = delimiter === '' ? -1 : record.key.indexOf(delimiter, prefix.length);
    const entry = cut < 0 ? record.key : record.key.slice(0, cut + delimiter.length);
    if (cut >= 0 && (entry === last || compareBytes(entry, marker) <= 0)) continue;
    if (objects.length + prefixes.length >= maxKeys) {
      return { objects, prefixes, isTruncated: true, nextMarker: last };
    }
    if (cut < 0) objects.push(record);
    else prefixes.push(entry);
    last = entry;
  }
  return { objects, prefixes, isTruncated: false };
}
