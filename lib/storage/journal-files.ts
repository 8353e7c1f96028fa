import { mkdir, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import { ValidationError } from '../core/errors.ts';
import type { WriteMode } from '../core/write-mode.ts';
import type { Logger } from './deps.ts';
import { fsyncDir, isAtomicTempName, isErrnoCode, writeFileAtomic } from './durable-fs.ts';
import { assertTaskId } from './layout.ts';
import { validateObjectDigest } from './task-meta.ts';

/** What the peer journals for a write it acknowledged before the backend has it. */
export interface JournalEntryInput {
  readonly taskId: string;
  readonly bucket: string;
  readonly key: string;
  /** `md5:<hex>`. */
  readonly digest: string;
  readonly contentLength: number;
  readonly contentType?: string;
  /** The write mode of the PUT. */
  readonly mode: WriteMode;
  /** Seed-peer replicas to reach (0..100). */
  readonly maxReplicas: number;
  /** The task-ID filter of the PUT (replicas must derive the same task ID). */
  readonly filter?: string;
}

export interface JournalEntry extends JournalEntryInput {
  readonly id: string;
  /** Append order; entries of one key run in this order. */
  readonly seq: number;
  /** ms since the epoch. */
  readonly createdAt: number;
  /** Handler runs that failed so far. */
  attempts: number;
}

const entrySchema = z.object({
  id: z.string().regex(/^[0-9a-f-]{36}$/),
  seq: z.number().int().nonnegative(),
  taskId: z.string().regex(/^[0-9a-f]{64}$/),
  bucket: z.string().min(1),
  key: z.string().min(1),
  digest: z.string(),
  contentLength: z.number().int().nonnegative(),
  contentType: z.string().optional(),
  mode: z.union([z.literal(0), z.literal(1), z.literal(2)]),
  maxReplicas: z.number().int().min(0).max(100),
  filter: z.string().optional(),
  createdAt: z.number(),
  attempts: z.number().int().nonnegative(),
});

/**
 * The journal's files: `dir/<seq, 16 digits>-<id>.json`, one per pending entry, each written
 * whole (temp + fsync + rename + fsync dir), so a crash leaves every entry either absent or
 * complete. Few entries are pending at a time, so a file per entry keeps retire (unlink) and
 * the per-entry attempt counter simple; `dead/` keeps entries that exhausted their attempts.
 */
export class JournalFiles {
  readonly deadDir: string;

  constructor(
    readonly dir: string,
    private readonly logger: Logger,
  ) {
    this.deadDir = join(dir, 'dead');
  }

  /** Loads pending entries in append order; unreadable files are moved to `dead/`. */
  async load(): Promise<JournalEntry[]> {
    await mkdir(this.deadDir, { recursive: true });
    const entries: JournalEntry[] = [];
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      if (isAtomicTempName(name)) {
        await rm(path, { force: true });
        continue;
      }
      if (!name.endsWith('.json')) continue;
      try {
        const entry = entrySchema.parse(JSON.parse(await readFile(path, 'utf8')));
        if (name !== fileName(entry)) throw new Error('file name does not match the entry');
        entries.push(entry);
      } catch (error) {
        this.logger.error({ file: name, err: error }, 'unreadable journal entry moved to dead/');
        await rename(path, join(this.deadDir, name));
      }
    }
    return entries.sort((a, b) => a.seq - b.seq);
  }

  /** Durably writes (or rewrites) an entry. */
  async write(entry: JournalEntry): Promise<void> {
    await writeFileAtomic(join(this.dir, fileName(entry)), `${JSON.stringify(entry)}\n`);
  }

  /**
   * Deletes a retired entry and fsyncs the directory, so a cancelled entry (a DELETE of its key
   * followed) cannot come back after a crash and resurrect the object in the backend.
   */
  async remove(entry: JournalEntry): Promise<void> {
    try {
      await unlink(join(this.dir, fileName(entry)));
    } catch (error) {
      if (!isErrnoCode(error, 'ENOENT')) throw error;
    }
    await fsyncDir(this.dir);
  }

  /** Moves an entry that will not be retried to `dead/` for an operator to look at. */
  async bury(entry: JournalEntry): Promise<void> {
    await rename(join(this.dir, fileName(entry)), join(this.deadDir, fileName(entry)));
    await fsyncDir(this.deadDir);
    await fsyncDir(this.dir);
  }
}

/** Throws ValidationError for an entry the journal must not accept. */
export function validateEntryInput(input: JournalEntryInput): void {
  assertTaskId(input.taskId);
  validateObjectDigest(input.digest);
  if (input.bucket === '' || input.key === '')
    throw new ValidationError('bucket and key are required');
  if (![0, 1, 2].includes(input.mode)) throw new ValidationError(`invalid mode ${input.mode}`);
  if (!Number.isInteger(input.maxReplicas) || input.maxReplicas < 0 || input.maxReplicas > 100) {
    throw new ValidationError(`invalid maxReplicas ${input.maxReplicas}`);
  }
  if (!Number.isSafeInteger(input.contentLength) || input.contentLength < 0) {
    throw new ValidationError(`invalid content length ${input.contentLength}`);
  }
}

function fileName(entry: Pick<JournalEntry, 'seq' | 'id'>): string {
  return `${String(entry.seq).padStart(16, '0')}-${entry.id}.json`;
}
