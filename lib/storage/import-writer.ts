import type { FileHandle } from 'node:fs/promises';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { formatDigest } from '../core/digest.ts';
import { ConflictError, IntegrityError, PayloadTooLargeError } from '../core/errors.ts';
import { computePieceCount, computePieceSize } from '../core/piece-size.ts';
import type { Clock, Logger } from './deps.ts';
import { fsyncDir, writeFileAtomic } from './durable-fs.ts';
import { assertTaskId, META_FILE } from './layout.ts';
import { asNoSpaceError, isNoSpace } from './no-space.ts';
import { hashFile, ObjectHasher } from './piece-hasher.ts';
import {
  pickObjectMetadata,
  serializeTaskMeta,
  type TaskMeta,
  type TaskObjectMetadata,
} from './task-meta.ts';

export interface ImportOptions extends TaskObjectMetadata {
  /** Expected length (e.g. from Content-Length); picks the piece size. Wrong hints cost a re-hash. */
  readonly sizeHint?: number;
  /** Larger bodies fail with PayloadTooLargeError and leave nothing behind. */
  readonly maxBytes?: number;
  /** `md5:<hex>` the body must have (replication imports); a mismatch throws IntegrityError. */
  readonly expectedDigest?: string;
}

/** What the body turned out to be, known once write() resolves. */
export interface ImportResult {
  readonly contentLength: number;
  /** `md5:<hex>` of the body. */
  readonly digest: string;
  readonly pieceSize: number;
  readonly pieceDigests: readonly string[];
}

export interface CommitOptions {
  /** Return the task pinned (see CommitResult.unpin), so eviction cannot take it first. */
  readonly pin?: boolean;
}

export interface CommitResult {
  readonly meta: TaskMeta;
  /** False when the task already existed complete and the staged copy was discarded. */
  readonly created: boolean;
  /** Releases the pin taken for `pin: true`. */
  readonly unpin?: () => void;
}

/** How the writer hands a staged task to the store (rename into place, under the task lock). */
export type InstallStaged = (
  stagingPath: string,
  meta: TaskMeta,
  options: CommitOptions,
) => Promise<CommitResult>;

export interface ImportWriterDeps {
  readonly stagingPath: string;
  readonly handle: FileHandle;
  readonly options: ImportOptions;
  readonly install: InstallStaged;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The disk filled up under this import (after its files are gone): make room for later. */
  readonly onNoSpace?: (bytes: number) => Promise<void>;
}

type State = 'open' | 'writing' | 'written' | 'committing' | 'committed' | 'aborted';

/**
 * One PUT body on its way into the piece store. Use: `await write(body)` once, then
 * `await commit(digest => taskId)` or `await abort()`. Until commit the bytes live only under
 * `staging/`, invisible to readers; a failed write() or commit() aborts by itself, so after any
 * rejection nothing is left on disk. Not reusable.
 */
export class ImportWriter {
  readonly #deps: ImportWriterDeps;
  #state: State = 'open';
  #result?: ImportResult;

  constructor(deps: ImportWriterDeps) {
    this.#deps = deps;
  }

  get state(): State {
    return this.#state;
  }

  get result(): ImportResult | undefined {
    return this.#result;
  }

  /**
   * Streams `source` into the staging file while computing the object md5 and each piece's
   * sha256 in the same pass. If the actual length calls for a different piece size than the
   * hint did, the pieces are re-hashed in a second pass over the file.
   */
  async write(
    source: Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  ): Promise<ImportResult> {
    this.#expectState('open');
    this.#state = 'writing';
    const { handle, options } = this.#deps;
    try {
      const guessedPieceSize = computePieceSize(options.sizeHint ?? -1);
      const hasher = new ObjectHasher(guessedPieceSize);
      const limit = options.maxBytes ?? Number.POSITIVE_INFINITY;
      // One write in flight while the next chunk is hashed: disk and CPU overlap.
      let writing: Promise<void> = Promise.resolve();
      try {
        for await (const chunk of source) {
          const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          if (hasher.length + bytes.length > limit) {
            throw new PayloadTooLargeError(`body is larger than ${limit} bytes`);
          }
          await writing;
          writing = writeAt(handle, bytes, hasher.length);
          writing.catch(() => {}); // handled: awaited on the next chunk or below
          hasher.update(bytes);
        }
      } finally {
        await writing.catch(() => {}); // settle it before the staging file goes
      }
      await writing;
      const contentLength = hasher.length;
      const digest = formatDigest('md5', hasher.md5Hex());
      if (options.expectedDigest !== undefined && options.expectedDigest !== digest) {
        throw new IntegrityError(`body digest ${digest} is not ${options.expectedDigest}`);
      }
      const pieceSize = computePieceSize(contentLength);
      let pieceDigests = hasher.pieces.digests();
      if (pieceSize !== guessedPieceSize) {
        this.#deps.logger.debug({ contentLength, guessedPieceSize, pieceSize }, 'import re-hash');
        pieceDigests = (await hashFile(handle, contentLength, { pieceSize })).pieceDigests ?? [];
      }
      this.#result = { contentLength, digest, pieceSize, pieceDigests };
      this.#state = 'written';
      return this.#result;
    } catch (error) {
      await this.#discard();
      throw await this.#noSpace(error);
    }
  }

  /**
   * Makes the task visible under the ID `taskIdFromDigest(digest)` returns: fsyncs the data,
   * writes meta.json (complete), renames the staging directory into `tasks/` and fsyncs the
   * directories. If that task already exists complete, the staged copy is discarded and the
   * existing task returned (`created: false`).
   */
  async commit(
    taskIdFromDigest: (digest: string) => string,
    options: CommitOptions = {},
  ): Promise<CommitResult> {
    this.#expectState('written');
    this.#state = 'committing';
    const { handle, stagingPath, clock } = this.#deps;
    const result = this.#result as ImportResult;
    try {
      const taskId = assertTaskId(taskIdFromDigest(result.digest));
      await handle.sync();
      await handle.close();
      const now = new Date(clock.now()).toISOString();
      const metadata = pickObjectMetadata(this.#deps.options);
      const meta: TaskMeta = {
        version: 1,
        taskId,
        contentLength: result.contentLength,
        pieceSize: result.pieceSize,
        pieceCount: computePieceCount(result.contentLength, result.pieceSize),
        pieceDigests: result.pieceDigests,
        digest: result.digest,
        ...metadata,
        etag: metadata.etag ?? `"${result.digest.slice('md5:'.length)}"`,
        lastModified: metadata.lastModified ?? now,
        complete: true,
        createdAt: now,
      };
      await writeFileAtomic(join(stagingPath, META_FILE), serializeTaskMeta(meta), {
        syncDir: false,
      });
      await fsyncDir(stagingPath);
      const committed = await this.#deps.install(stagingPath, meta, options);
      this.#state = 'committed';
      return committed;
    } catch (error) {
      await this.#discard();
      throw await this.#noSpace(error);
    }
  }

  /**
   * Removes the staging files. Safe in any state; a no-op once commit() has started (a failing
   * commit cleans up by itself). During write() it makes the write reject.
   */
  async abort(): Promise<void> {
    if (this.#state === 'committing' || this.#state === 'committed') return;
    if (this.#state === 'aborted') return;
    await this.#discard();
  }

  /**
   * ENOSPC/EDQUOT become InsufficientStorageError (HTTP 507), after asking the store to make
   * room for a body of this size, so that a retry can fit without an operator.
   */
  async #noSpace(error: unknown): Promise<unknown> {
    if (!isNoSpace(error)) return error;
    const { options, onNoSpace, logger } = this.#deps;
    const bytes = Math.max(this.#result?.contentLength ?? 0, options.sizeHint ?? 0);
    logger.warn({ bytes }, 'import failed: no space left on the cache disk');
    await onNoSpace?.(bytes).catch((cause) => logger.error({ err: cause }, 'making room failed'));
    return asNoSpaceError(error);
  }

  async #discard(): Promise<void> {
    this.#state = 'aborted';
    await this.#deps.handle.close().catch(() => {});
    await rm(this.#deps.stagingPath, { recursive: true, force: true });
  }

  #expectState(expected: State): void {
    if (this.#state !== expected) {
      throw new ConflictError(`import writer is ${this.#state}, expected ${expected}`);
    }
  }
}

async function writeAt(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const length = bytes.length - offset;
    const { bytesWritten } = await handle.write(bytes, offset, length, position + offset);
    offset += bytesWritten;
  }
}
