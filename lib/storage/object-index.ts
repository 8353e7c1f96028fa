import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { ObjectNotFoundError, ValidationError } from '../core/errors.ts';
import { type Logger, noopLogger } from './deps.ts';
import { fsyncDir, isAtomicTempName } from './durable-fs.ts';
import { assertTaskId } from './layout.ts';

/** What the peer knows about the current version of `bucket/key`. */
export interface IndexEntry {
  readonly taskId: string;
  readonly contentLength: number;
  /** Quoted HTTP entity tag. */
  readonly etag: string;
  /** `md5:<hex>`. */
  readonly digest: string;
  readonly contentType?: string;
  readonly contentDisposition?: string;
  readonly contentEncoding?: string;
  readonly contentLanguage?: string;
  /** ISO 8601. */
  readonly lastModified: string;
  /** `pending`: only in this cluster (write-back journaled); `durable`: in the backend. */
  readonly state?: 'pending' | 'durable';
}

/** The outcome of a set/delete/copy. */
export interface IndexChange {
  readonly previous?: IndexEntry;
  /** The previous task ID when no key references it any more: the caller may remove the task. */
  readonly orphanedTaskId?: string;
}

export interface ObjectIndexOptions {
  readonly dataDir: string;
  /** Compact when the log holds more than this many records and twice the live entries. */
  readonly compactMinRecords?: number;
  readonly logger?: Logger;
}

type LogRecord =
  | { readonly op: 'set'; readonly b: string; readonly k: string; readonly e: IndexEntry }
  | { readonly op: 'del'; readonly b: string; readonly k: string };

interface Pending {
  readonly line: string;
  readonly apply: () => IndexChange;
  readonly resolve: (change: IndexChange) => void;
  readonly reject: (error: unknown) => void;
}

const LOG_FILE = 'index.log';

/** Loads `dataDir/index/index.log` into memory (see ObjectIndex for the format). */
export async function openObjectIndex(options: ObjectIndexOptions): Promise<ObjectIndex> {
  const dir = join(options.dataDir, 'index');
  await mkdir(dir, { recursive: true });
  const index = new ObjectIndex(join(dir, LOG_FILE), options);
  await index.load();
  return index;
}

/**
 * Crash-safe map `bucket/key → IndexEntry`, held in memory for lookups.
 *
 * Format: an append-only log, one record per line, `<crc32 hex> <json>\n`, where the json is a
 * `set` or `del`. Writes are group-committed: every record queued while a write is in flight
 * goes out in the next single write + fdatasync, and each promise resolves only after that
 * sync. The in-memory map changes at the same moment, so get() never returns anything that is
 * not durable. Why a log rather than a file per key: one fsync per batch instead of three per
 * key, and one file to read at startup instead of millions.
 *
 * Crash safety: a crash can only tear the tail of the log (appends), so on load a line whose
 * checksum or JSON is bad is skipped, and any bad line triggers a compaction that rewrites the
 * log from the good records. A failed append truncates the log back to its last synced size so
 * a partial line never glues onto the next record. Compaction writes a snapshot to a temp file,
 * fsyncs it, renames it over the log and fsyncs the directory: either the old or the new log
 * survives a crash, both complete.
 */
export class ObjectIndex {
  readonly #path: string;
  readonly #logger: Logger;
  readonly #compactMinRecords: number;
  readonly #entries = new Map<string, IndexEntry>();
  readonly #byTask = new Map<string, Set<string>>();
  readonly #queue: Pending[] = [];
  #handle?: FileHandle;
  #size = 0;
  #records = 0;
  /** Every disk operation runs on this chain, one at a time. */
  #chain: Promise<void> = Promise.resolve();
  #drainScheduled = false;
  #closed = false;

  /** Use openObjectIndex(). */
  constructor(path: string, options: ObjectIndexOptions) {
    this.#path = path;
    this.#logger = options.logger ?? noopLogger;
    this.#compactMinRecords = options.compactMinRecords ?? 10_000;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(bucket: string, key: string): IndexEntry | undefined {
    return this.#entries.get(compositeKey(bucket, key));
  }

  /** Records `entry` as the current version of `bucket/key`; resolves once durable. */
  async set(bucket: string, key: string, entry: IndexEntry): Promise<IndexChange> {
    assertTaskId(entry.taskId);
    const ck = compositeKey(bucket, key);
    const record: LogRecord = { op: 'set', b: bucket, k: key, e: entry };
    return this.#enqueue(record, () => this.#apply(ck, entry));
  }

  /** Forgets `bucket/key` (idempotent); resolves once durable. */
  async delete(bucket: string, key: string): Promise<IndexChange> {
    const ck = compositeKey(bucket, key);
    return this.#enqueue({ op: 'del', b: bucket, k: key }, () => this.#apply(ck, undefined));
  }

  /**
   * Links `destKey` to the source's task (a copy shares the cached data). `overrides` replace
   * entry fields (e.g. lastModified). ObjectNotFoundError when the source is not indexed.
   */
  async copy(
    bucket: string,
    sourceKey: string,
    destinationKey: string,
    overrides: Partial<Omit<IndexEntry, 'taskId'>> = {},
  ): Promise<IndexChange> {
    const source = this.get(bucket, sourceKey);
    if (!source) throw new ObjectNotFoundError(bucket, sourceKey);
    return this.set(bucket, destinationKey, { ...source, ...overrides });
  }

  /** Keys whose current version is `taskId` (a task is shared by copies). */
  keysForTask(taskId: string): Array<{ bucket: string; key: string }> {
    return [...(this.#byTask.get(taskId) ?? [])].map(splitKey);
  }

  /** How many keys reference `taskId`. */
  refCount(taskId: string): number {
    return this.#byTask.get(taskId)?.size ?? 0;
  }

  *entries(): IterableIterator<{ bucket: string; key: string; entry: IndexEntry }> {
    for (const [ck, entry] of this.#entries) yield { ...splitKey(ck), entry };
  }

  /** Rewrites the log from the live entries (also done automatically). */
  async compact(): Promise<void> {
    await this.#enqueueBarrier(() => this.#compactNow());
  }

  /** Waits for queued writes and closes the log; later writes reject. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#chain;
    await this.#handle?.close();
    this.#handle = undefined;
  }

  /** @internal Replays the log (openObjectIndex calls this). */
  async load(): Promise<void> {
    await this.#removeTempFiles();
    const handle = await open(this.#path, 'a+');
    this.#handle = handle;
    await fsyncDir(dirname(this.#path));
    let bad = 0;
    for await (const line of handle.readLines({ start: 0, autoClose: false, encoding: 'utf8' })) {
      const record = parseLine(line);
      if (!record) {
        bad++;
        continue;
      }
      this.#records++;
      this.#apply(compositeKey(record.b, record.k), record.op === 'set' ? record.e : undefined);
    }
    this.#size = (await handle.stat()).size;
    if (bad > 0) this.#logger.warn({ badRecords: bad }, 'index log had torn or corrupt records');
    if (bad > 0 || this.#needsCompaction()) await this.#compactNow();
  }

  #apply(ck: string, entry: IndexEntry | undefined): IndexChange {
    const previous = this.#entries.get(ck);
    if (previous) this.#byTask.get(previous.taskId)?.delete(ck);
    if (entry) {
      this.#entries.set(ck, entry);
      const keys = this.#byTask.get(entry.taskId) ?? new Set<string>();
      keys.add(ck);
      this.#byTask.set(entry.taskId, keys);
    } else {
      this.#entries.delete(ck);
    }
    if (!previous) return {};
    const orphaned = this.refCount(previous.taskId) === 0;
    if (orphaned) this.#byTask.delete(previous.taskId);
    return orphaned ? { previous, orphanedTaskId: previous.taskId } : { previous };
  }

  #enqueue(record: LogRecord, apply: () => IndexChange): Promise<IndexChange> {
    if (this.#closed) return Promise.reject(new Error('object index is closed'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ line: formatLine(record), apply, resolve, reject });
      if (this.#drainScheduled) return;
      this.#drainScheduled = true;
      this.#chain = this.#chain
        .then(() => this.#drain())
        .catch((error) => this.#logger.error({ err: error }, 'index write loop failed'));
    });
  }

  #enqueueBarrier(op: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(op);
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Group commit: one write + fdatasync for everything queued, until the queue is empty. */
  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0);
        try {
          await this.#append(batch.map((p) => p.line).join(''));
          this.#records += batch.length;
        } catch (error) {
          for (const pending of batch) pending.reject(error);
          continue;
        }
        for (const pending of batch) pending.resolve(pending.apply());
        if (this.#needsCompaction()) {
          await this.#compactNow().catch((error) =>
            this.#logger.error({ err: error }, 'index compaction failed'),
          );
        }
      }
    } finally {
      this.#drainScheduled = false;
    }
  }

  async #append(text: string): Promise<void> {
    const handle = this.#handle;
    if (!handle) throw new Error('object index is closed');
    try {
      await handle.write(text);
      await handle.datasync();
      this.#size += Buffer.byteLength(text);
    } catch (error) {
      await handle.truncate(this.#size).catch((cause) => {
        this.#logger.error({ err: cause }, 'could not truncate a failed index append');
        this.#closed = true;
      });
      throw error;
    }
  }

  #needsCompaction(): boolean {
    return this.#records > Math.max(this.#compactMinRecords, 2 * this.#entries.size);
  }

  async #compactNow(): Promise<void> {
    const temp = `${this.#path}.tmp-${randomBytes(6).toString('hex')}`;
    const out = await open(temp, 'wx');
    let size = 0;
    try {
      let chunk = '';
      for (const [ck, entry] of this.#entries) {
        const { bucket, key } = splitKey(ck);
        chunk += formatLine({ op: 'set', b: bucket, k: key, e: entry });
        if (chunk.length >= 1 << 20) {
          await out.write(chunk);
          size += Buffer.byteLength(chunk);
          chunk = '';
        }
      }
      await out.write(chunk);
      size += Buffer.byteLength(chunk);
      await out.sync();
    } catch (error) {
      await out.close();
      await rm(temp, { force: true });
      throw error;
    }
    await out.close();
    await rename(temp, this.#path);
    await fsyncDir(dirname(this.#path));
    await this.#handle?.close();
    this.#handle = await open(this.#path, 'a+');
    this.#size = size;
    this.#records = this.#entries.size;
  }

  async #removeTempFiles(): Promise<void> {
    const dir = dirname(this.#path);
    for (const name of await readdir(dir)) {
      if (name.startsWith(`${LOG_FILE}.`) && isAtomicTempName(name)) await rm(join(dir, name));
    }
  }
}

function compositeKey(bucket: string, key: string): string {
  if (bucket === '' || key === '' || bucket.includes('\0') || key.includes('\0')) {
    throw new ValidationError('bucket and key must be non-empty and free of NUL');
  }
  return `${bucket}\0${key}`;
}

function splitKey(ck: string): { bucket: string; key: string } {
  const at = ck.indexOf('\0');
  return { bucket: ck.slice(0, at), key: ck.slice(at + 1) };
}

function formatLine(record: LogRecord): string {
  const json = JSON.stringify(record);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

function parseLine(line: string): LogRecord | undefined {
  const json = line.slice(9);
  if (line[8] !== ' ' || crc32(json).toString(16).padStart(8, '0') !== line.slice(0, 8)) {
    return undefined;
  }
  try {
    const record = JSON.parse(json) as LogRecord;
    return record.op === 'set' || record.op === 'del' ? record : undefined;
  } catch {
    return undefined;
  }
}
