import type { ObjectBackend } from '../backends/object-backend.ts';
import { NotFoundError } from '../core/errors.ts';
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
