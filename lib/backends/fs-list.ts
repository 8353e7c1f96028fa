import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../core/errors.ts';
import { isNotFound } from './fs-files.ts';
import { compareTreeEntries, parseTreeEntry, type TreeEntry } from './fs-key-path.ts';
import { type ListObjectsOptions, MAX_LIST_LIMIT, type ObjectMetadata } from './object-backend.ts';

/** A listed object: its key bytes and the path of its sidecar. */
export interface TreeObject {
  readonly key: Buffer;
  readonly sidecar: string;
}

export interface TreeListing {
  readonly objects: ObjectMetadata[];
  readonly commonPrefixes: string[];
  readonly isTruncated: boolean;
  readonly nextMarker?: string;
}

/** Keys at or above `bytes` (`inclusive`) or strictly above it. */
interface Bound {
  readonly bytes: Buffer;
  readonly inclusive: boolean;
}

/**
 * S3 ListObjects (v1) over a key tree: keys under `prefix` after `marker`, in byte-wise order,
 * with keys that contain `delimiter` after the prefix rolled up into common prefixes. Objects and
 * prefixes count together toward `limit`; `nextMarker` is the last key or prefix returned. A
 * prefix is returned only when it sorts after the marker, so passing a prefix back as the marker
 * resumes after everything under it. After each prefix the walk restarts past all its keys, so a
 * page reads the directories on its way, not the whole bucket. `load` returns undefined for an
 * object deleted meanwhile, which is then skipped.
 */
export async function listTree(
  keysDir: string,
  options: ListObjectsOptions,
  load: (object: TreeObject) => Promise<ObjectMetadata | undefined>,
): Promise<TreeListing> {
  const limit = options.limit ?? MAX_LIST_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new ValidationError(`list limit must be an integer from 1 to ${MAX_LIST_LIMIT}`);
  }
  const max = Math.min(limit, MAX_LIST_LIMIT);
  const prefix = Buffer.from(options.prefix ?? '', 'utf8');
  const marker = options.marker ? Buffer.from(options.marker, 'utf8') : undefined;
  const delimiter = options.delimiter ? Buffer.from(options.delimiter, 'utf8') : undefined;
  const walker = new TreeWalker(keysDir);
  const objects: ObjectMetadata[] = [];
  const commonPrefixes: string[] = [];
  let last = '';
  const truncated = () => ({ objects, commonPrefixes, isTruncated: true, nextMarker: last });
  let bound: Bound =
    marker && Buffer.compare(marker, prefix) >= 0
      ? { bytes: marker, inclusive: false }
      : { bytes: prefix, inclusive: true };

  scan: for (;;) {
    for await (const object of walker.walk(bound, prefix)) {
      const at = delimiter ? object.key.indexOf(delimiter, prefix.length) : -1;
      if (delimiter && at >= 0) {
        const common = object.key.subarray(0, at + delimiter.length);
        bound = { bytes: successor(common), inclusive: true };
        if (!marker || Buffer.compare(common, marker) > 0) {
          if (objects.length + commonPrefixes.length === max) return truncated();
          last = common.toString('utf8');
          commonPrefixes.push(last);
        }
        continue scan;
      }
      if (objects.length + commonPrefixes.length === max) return truncated();
      const metadata = await load(object);
      if (!metadata) continue;
      objects.push(metadata);
      last = metadata.key;
    }
    return { objects, commonPrefixes, isTruncated: false };
  }
}

/** Whether the tree holds at least one object (empty directories do not count). */
export async function hasAnyObject(keysDir: string): Promise<boolean> {
  const empty = Buffer.alloc(0);
  for await (const _ of new TreeWalker(keysDir).walk({ bytes: empty, inclusive: true }, empty)) {
    return true;
  }
  return false;
}

/** The smallest byte string greater than every string that starts with `bytes`. */
function successor(bytes: Buffer): Buffer {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0xff) end--;
  const next = Buffer.from(bytes.subarray(0, end));
  if (end > 0) next[end - 1] = (next[end - 1] ?? 0) + 1;
  return next;
}

const startsWith = (bytes: Buffer, head: Buffer): boolean =>
  bytes.length >= head.length && bytes.compare(head, 0, head.length, 0, head.length) === 0;

/**
 * Depth-first walk of a key tree in key order (see fs-key-path.ts for why the order holds).
 * Each directory is read and sorted once per listing.
 */
export class TreeWalker {
  readonly #dirs = new Map<string, TreeEntry[]>();

  constructor(private readonly keysDir: string) {}

  /** Objects whose key starts with `prefix` and is within `bound`, in byte-wise order. */
  async *walk(bound: Bound, prefix: Buffer): AsyncGenerator<TreeObject> {
    yield* this.#walkDir(this.keysDir, Buffer.alloc(0), bound, prefix);
  }

  /** Returns true once an entry past the prefix was reached: nothing later can match. */
  async *#walkDir(
    dir: string,
    base: Buffer,
    bound: Bound,
    prefix: Buffer,
  ): AsyncGenerator<TreeObject, boolean> {
    const entries = await this.#entries(dir);
    for (let i = firstCandidate(entries, base, bound); i < entries.length; i++) {
      const entry = entries[i] as TreeEntry;
      const full = Buffer.concat([base, entry.sortKey]);
      const underPrefix = startsWith(full, prefix);
      if (!underPrefix && !startsWith(prefix, full)) {
        if (Buffer.compare(full, prefix) > 0) return true;
        continue;
      }
      if (entry.kind === 'o') {
        const cmp = Buffer.compare(full, bound.bytes);
        if (underPrefix && (cmp > 0 || (cmp === 0 && bound.inclusive))) {
          yield { key: full, sidecar: join(dir, entry.name) };
        }
      } else if (Buffer.compare(full, bound.bytes) >= 0 || startsWith(bound.bytes, full)) {
        if (yield* this.#walkDir(join(dir, entry.name), full, bound, prefix)) return true;
      }
    }
    return false;
  }

  async #entries(dir: string): Promise<TreeEntry[]> {
    const cached = this.#dirs.get(dir);
    if (cached) return cached;
    let dirents: Dirent[];
    try {
      dirents = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      dirents = [];
    }
    const entries: TreeEntry[] = [];
    for (const dirent of dirents) {
      const entry = parseTreeEntry(dirent.name);
      if (entry && (entry.kind === 'o' ? dirent.isFile() : dirent.isDirectory())) {
        entries.push(entry);
      }
    }
    entries.sort(compareTreeEntries);
    this.#dirs.set(dir, entries);
    return entries;
  }
}

/**
 * Index of the first entry that can hold a key within the bound. Key ranges of entries are
 * disjoint and ordered, so this is the first entry whose sort key is at or above the bound,
 * or the one before it when that is a directory the bound points into.
 */
function firstCandidate(entries: TreeEntry[], base: Buffer, bound: Bound): number {
  if (!startsWith(bound.bytes, base)) return 0;
  const rest = bound.bytes.subarray(base.length);
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Buffer.compare((entries[mid] as TreeEntry).sortKey, rest) < 0) lo = mid + 1;
    else hi = mid;
  }
  const before = entries[lo - 1];
  return before && before.kind !== 'o' && startsWith(rest, before.sortKey) ? lo - 1 : lo;
}
