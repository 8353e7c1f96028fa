import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Small helpers for crash-safe file updates on POSIX file systems. The pattern everywhere is:
 * write a temp file in the same directory, fsync it, rename it over the target, fsync the
 * directory. After a crash the target holds either the old or the new content, never a mix.
 */

/** fsyncs a directory so that entries created, renamed or removed in it are durable. */
export async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Atomically replaces `path` with `data`: temp file in the same directory, fsync, rename,
 * then fsync of the directory unless `syncDir` is false (callers that fsync it later anyway).
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: { syncDir?: boolean } = {},
): Promise<void> {
  const temp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  const handle = await open(temp, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  if (options.syncDir !== false) await fsyncDir(dirname(path));
}

/** Whether `name` is a temp file left by writeFileAtomic (removed during recovery). */
export function isAtomicTempName(name: string): boolean {
  return /\.tmp-[0-9a-f]{12}$/.test(name);
}

/** Whether an error is a Node system error with this `code` (e.g. `ENOENT`). */
export function isErrnoCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}
