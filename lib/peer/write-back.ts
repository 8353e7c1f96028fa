import { setTimeout as sleep } from 'node:timers/promises';
import type { ObjectBackend } from '../backends/object-backend.ts';
import { BackendAuthError, BackendError, NotFoundError } from '../core/errors.ts';
import type { Logger } from '../storage/deps.ts';
import type { JournalHandler } from '../storage/journal.ts';
import type { JournalEntry } from '../storage/journal-files.ts';
import type { ObjectIndex } from '../storage/object-index.ts';
import type { PieceStore } from '../storage/piece-store.ts';

export interface WriteBackDeps {
  readonly store: PieceStore;
  readonly index: ObjectIndex;
  readonly backend: () => ObjectBackend;
  readonly logger: Logger;
  /** Runs after each write-back landed (replication); its failure does not fail the entry. */
  readonly afterWrite?: (entry: JournalEntry, etag: string) => Promise<void>;
}

/**
 * Streams a cached task to the backend as `bucket/key` with its digest, then marks the index
 * entry durable (and records the backend's ETag) if the key still names that task. Resolves
 * with that ETag.
 */
export async function writeTaskToBackend(
  deps: WriteBackDeps,
  target: { taskId: string; bucket: string; key: string },
): Promise<string> {
  const { store, index } = deps;
  const meta = store.stat(target.taskId);
  if (!meta?.complete) throw new NotFoundError(`task ${target.taskId} is not in the cache`);
  const body = await store.createReadStream(target.taskId);
  const { etag } = await deps.backend().putObject(target.bucket, target.key, body, {
    contentLength: meta.contentLength,
    contentType: meta.contentType,
    contentDisposition: meta.contentDisposition,
    contentEncoding: meta.contentEncoding,
    contentLanguage: meta.contentLanguage,
    digest: meta.digest,
  });
  const current = index.get(target.bucket, target.key);
  if (current?.taskId === target.taskId) {
    await index.set(target.bucket, target.key, { ...current, etag, state: 'durable' });
  }
  return etag;
}

export interface BackendWriteRetry {
  /** Tries in all (default 3). */
  readonly attempts?: number;
  /** The delay before retry n is up to `baseDelayMs * 4^(n-1)`, full jitter (default 200). */
  readonly baseDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<unknown>;
  readonly random?: () => number;
}

/**
 * writeTaskToBackend, retried a few times on backend failures that may be transient (a 500, a
 * reset connection, a timeout): the S3 SDK never retries a streamed body, so one dropped
 * connection would otherwise fail a WriteBack PUT. Each try re-reads the task from the cache.
 * Refusals (credentials, a missing bucket, bad input) fail at once.
 */
export async function writeTaskToBackendRetrying(
  deps: WriteBackDeps,
  target: { taskId: string; bucket: string; key: string },
  retry: BackendWriteRetry = {},
): Promise<string> {
  const attempts = Math.max(1, retry.attempts ?? 3);
  const pause = retry.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await writeTaskToBackend(deps, target);
    } catch (error) {
      const transient = error instanceof BackendError && !(error instanceof BackendAuthError);
      if (!transient || attempt >= attempts) throw error;
      const ceiling = (retry.baseDelayMs ?? 200) * 4 ** (attempt - 1);
      deps.logger.warn({ err: error, taskId: target.taskId, attempt }, 'backend write retried');
      await pause(Math.floor((retry.random ?? Math.random)() * ceiling));
    }
  }
}

/** The journal's handler: the write-back of one acknowledged mode-0 PUT. Idempotent. */
export function createWriteBackHandler(deps: WriteBackDeps): JournalHandler {
  // The journal's abort signal is deliberately not passed on: an aborted HTTP upload may still
  // complete on the server, after the DELETE that cancelled it. A DELETE waits for the running
  // write-back instead (journal.cancelKey resolves once it settles).
  return async (entry: JournalEntry) => {
    const etag = await writeTaskToBackend(deps, entry);
    await deps
      .afterWrite?.(entry, etag)
      .catch((error: unknown) =>
        deps.logger.error({ err: error, taskId: entry.taskId }, 'after write-back step failed'),
      );
    deps.logger.info(
      { taskId: entry.taskId, bucket: entry.bucket, attempts: entry.attempts },
      'write-back done',
    );
  };
}
