import { ValidationError } from '../core/errors.ts';
import { validateObjectKey } from '../core/names.ts';

/**
 * Maps object keys to paths under a bucket's `keys/` tree. No key can name anything outside the
 * tree, and a depth-first walk of the tree yields keys in S3's byte-wise order.
 *
 * The key's UTF-8 bytes are split at `/`. Each segment becomes `c<hex>` entries ("continues":
 * exactly CHUNK_BYTES bytes of the segment) while CHUNK_BYTES or more bytes remain, then one entry
 * for the rest (fewer than CHUNK_BYTES bytes, possibly none): `d<hex>` (a directory: the segment
 * is followed by `/`) or, for the last segment, `o<hex>` (the object's metadata sidecar). So `a`,
 * `a/` and `a/b` are `o61`, `d61/o` and `d61/o62`: they coexist. Names are a kind letter plus
 * lower-case hex, so they are never `.`/`..`, never hold `/`, `\` or NUL, fit NAME_MAX
 * (1 + 2 * CHUNK_BYTES bytes) and survive case-insensitive file systems; a 1024-byte key needs at
 * most about 2.1 KB of path below the bucket.
 *
 * Order: each entry stands for the key bytes `sortKey` (`s` for `o` and `c`, `s + "/"` for `d`).
 * Within one directory no sort key is a proper prefix of a `d` or `c` entry's sort key (`/` only
 * ends a sort key; `c` keys have the full chunk length, longer than any `o` or `d` bytes), so the
 * key ranges of the entries are disjoint and ordered like their sort keys.
 */
export const CHUNK_BYTES = 100;

export type TreeEntryKind = 'o' | 'd' | 'c';

export interface TreeEntry {
  /** The on-disk name. */
  readonly name: string;
  readonly kind: TreeEntryKind;
  /** The key bytes this entry adds below its parent. */
  readonly sortKey: Buffer;
}

const SLASH = 0x2f;
const NAME_RE = /^[odc](?:[0-9a-f]{2})*$/;

/**
 * Validates an object key (names.ts rules, plus well-formed UTF-16 so the bytes on disk decode
 * back to the same string) and returns its UTF-8 bytes.
 */
export function objectKeyBytes(key: string): Buffer {
  validateObjectKey(key);
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.toString('utf8') !== key) {
    throw new ValidationError('object key is not well-formed Unicode');
  }
  return bytes;
}

/** The names from `keys/` down to the key's `o` entry (the last name). */
export function keyToTreeNames(key: Buffer): string[] {
  const names: string[] = [];
  let start = 0;
  for (;;) {
    const slash = key.indexOf(SLASH, start);
    const end = slash < 0 ? key.length : slash;
    while (end - start >= CHUNK_BYTES) {
      names.push(`c${key.toString('hex', start, start + CHUNK_BYTES)}`);
      start += CHUNK_BYTES;
    }
    names.push(`${slash < 0 ? 'o' : 'd'}${key.toString('hex', start, end)}`);
    if (slash < 0) return names;
    start = slash + 1;
  }
}

/**
 * Parses an on-disk name, or returns undefined for anything this module would not have written
 * (stray files, temp names, chunk lengths that would break the ordering invariant).
 */
export function parseTreeEntry(name: string): TreeEntry | undefined {
  if (!NAME_RE.test(name)) return undefined;
  const kind = name[0] as TreeEntryKind;
  const bytes = Buffer.from(name.slice(1), 'hex');
  if (kind === 'c' ? bytes.length !== CHUNK_BYTES : bytes.length >= CHUNK_BYTES) return undefined;
  const sortKey = kind === 'd' ? Buffer.concat([bytes, Buffer.of(SLASH)]) : bytes;
  return { name, kind, sortKey };
}

/** Sorts entries of one directory into key order. */
export function compareTreeEntries(a: TreeEntry, b: TreeEntry): number {
  return Buffer.compare(a.sortKey, b.sortKey);
}
