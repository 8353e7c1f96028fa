import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rm, rmdir } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';

/** Errors that mean "the path is not there" (a missing directory anywhere on the way). */
export function isNotFound(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

/** A random 128-bit id in hex: names staged files and data versions. */
export function newId(): string {
  return randomBytes(16).toString('hex');
}

/**
 * fsyncs a directory so that entries created or renamed in it survive a crash. File systems that
 * cannot fsync a directory (EINVAL, EISDIR, EPERM) are tolerated.
 */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (error) {
    if (!['EINVAL', 'EISDIR', 'EPERM', 'ENOTSUP'].includes(errorCode(error) ?? '')) throw error;
  } finally {
    await handle.close();
  }
}

/** `mkdir -p` that also fsyncs the parent of every directory it created. */
export async function mkdirDurable(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  const created = [first];
  for (const part of relative(first, dir).split(sep)) {
    if (part) created.push(`${created[created.length - 1]}${sep}${part}`);
  }
  // Independent fsyncs: issued together so the file system can commit them as one group.
  await Promise.all([dirname(first), ...created.slice(0, -1)].map((made) => syncDir(made)));
}

/**
 * Removes now-empty directories from `dir` upwards, stopping below `stop` and at the first
 * directory that is not empty. A concurrent writer that loses its directory this way retries
 * (see `renameCreatingDir`).
 */
export async function pruneEmptyDirs(dir: string, stop: string): Promise<void> {
  let current = dir;
  while (current !== stop && current.startsWith(`${stop}${sep}`)) {
    try {
      await rmdir(current);
    } catch {
      return;
    }
    current = dirname(current);
  }
}

/** Removes a file if it is there; errors are ignored (best-effort cleanup). */
export async function removeQuietly(path: string): Promise<void> {
  await rm(path, { force: true, recursive: true }).catch(() => {});
}

/**
 * Streams `body` into a new file (`wx`: a staged name is never shared), hashing on the way, and
 * fsyncs it. Honors `signal` by destroying the body. The caller removes the file on failure.
 */
export async function streamToFile(
  path: string,
  body: Readable,
  signal: AbortSignal | undefined,
): Promise<{ size: number; md5: string }> {
  signal?.throwIfAborted();
  if (signal) addAbortSignal(signal, body);
  const hash = createHash('md5');
  let size = 0;
  const file = await open(path, 'wx', 0o644);
  try {
    for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      hash.update(bytes);
      size += bytes.length;
      for (let offset = 0; offset < bytes.length; ) {
        offset += (await file.write(bytes, offset, bytes.length - offset)).bytesWritten;
      }
    }
    await file.sync();
  } finally {
    await file.close();
  }
  return { size, md5: hash.digest('hex') };
}

export async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Serialises async sections per key inside this process (commits and deletes of one object), so
 * that the version an overwrite replaces is known exactly and can be removed.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, section: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release = (): void => {};
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => done);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await section();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
