import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFsBackend, type FsBackendDeps } from '../../lib/backends/fs-backend.ts';
import type { ObjectBackend } from '../../lib/backends/object-backend.ts';
import type { FsBackendConfig } from '../../lib/config/backend-config.ts';

export interface TempFsBackend {
  /** A fresh temp directory holding only `root`, so escapes are visible beside it. */
  readonly parent: string;
  readonly root: string;
  readonly backend: ObjectBackend;
  remove(): Promise<void>;
}

/** An fs backend on `<fresh temp dir>/root`. */
export async function tempFsBackend(
  config: Partial<Omit<FsBackendConfig, 'name' | 'root'>> = {},
  deps: FsBackendDeps = {},
): Promise<TempFsBackend> {
  const parent = await mkdtemp(join(tmpdir(), 'dfstore-fs-unit-'));
  const root = join(parent, 'root');
  return {
    parent,
    root,
    backend: createFsBackend({ name: 'fs', root, ...config }, deps),
    remove: () => rm(parent, { recursive: true, force: true }),
  };
}

/** Every path below `dir`, depth first, with its type as readdir reports it (links not followed). */
export async function walk(dir: string): Promise<string[]> {
  return (await walkEntries(dir)).map((entry) => entry.path);
}

export interface WalkedEntry {
  readonly path: string;
  readonly type: 'file' | 'directory' | 'symlink' | 'other';
}

export async function walkEntries(dir: string): Promise<WalkedEntry[]> {
  const found: WalkedEntry[] = [];
  for (const dirent of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, dirent.name);
    const type = dirent.isFile()
      ? 'file'
      : dirent.isDirectory()
        ? 'directory'
        : dirent.isSymbolicLink()
          ? 'symlink'
          : 'other';
    found.push({ path, type });
    if (type === 'directory') found.push(...(await walkEntries(path)));
  }
  return found;
}
