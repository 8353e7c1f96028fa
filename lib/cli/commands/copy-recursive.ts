import type { Dirent } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { DfstoreClient } from '../../client/dfstore-client.ts';
import { ValidationError } from '../../core/errors.ts';
import type { WriteMode } from '../../core/write-mode.ts';
import { directoryPrefix } from '../locations.ts';
import type { CommandContext } from '../program.ts';
import { createProgress, type Progress } from '../progress.ts';
import { downloadToFile, uploadFromFile } from '../transfer.ts';

export interface TreeSummary {
  readonly objects: number;
  readonly bytes: number;
}

export interface UploadTreeRequest {
  readonly bucket: string;
  /** Key prefix; `/` is appended unless empty (bucket root) or already there. */
  readonly prefix: string;
  readonly dir: string;
  readonly mode: WriteMode;
  readonly maxReplicas: number;
  readonly filter?: string;
  readonly parallel: number;
}

/**
 * `cp -r ./dir dfs://b/prefix/`: every regular file below `dir` (symlinks to files followed,
 * symlinked directories not entered) becomes `prefix/<relative path with />`, `parallel` at a time.
 * The first failure aborts the transfers in flight and is reported.
 */
export async function uploadTree(
  client: DfstoreClient,
  ctx: CommandContext,
  request: UploadTreeRequest,
): Promise<TreeSummary> {
  if (!(await stat(request.dir)).isDirectory()) {
    throw new ValidationError(`${request.dir} is not a directory`);
  }
  const prefix = directoryPrefix(request.prefix);
  const files = await listFiles(request.dir);
  const sizes = await Promise.all(files.map(async (file) => (await stat(file)).size));
  const progress = treeProgress(ctx, 'Uploading', sum(sizes));
  const bytes = await forEachLimited(files, request.parallel, ctx.signal, (file, signal) =>
    uploadFromFile(client, {
      bucket: request.bucket,
      key: `${prefix}${relative(request.dir, file).split(sep).join('/')}`,
      path: file,
      mode: request.mode,
      maxReplicas: request.maxReplicas,
      filter: request.filter,
      signal,
      progress,
    }),
  ).finally(() => progress.stop());
  return { objects: files.length, bytes: sum(bytes) };
}

export interface DownloadTreeRequest {
  readonly bucket: string;
  readonly prefix: string;
  readonly dir: string;
  readonly filter?: string;
  readonly parallel: number;
}

/**
 * `cp -r dfs://b/prefix/ ./dir`: every object under `prefix/` lands at `dir/<rest of its key>`.
 * Keys are untrusted input: one that would escape `dir` (a `..` segment) or has an empty or `.`
 * segment is refused before anything is written. Keys ending in `/` become directories.
 */
export async function downloadTree(
  client: DfstoreClient,
  ctx: CommandContext,
  request: DownloadTreeRequest,
): Promise<TreeSummary> {
  const prefix = directoryPrefix(request.prefix);
  const root = resolve(request.dir);
  const entries: { key: string; path: string; size: number }[] = [];
  const directories: string[] = [root];
  for await (const page of client.listAllObjects(request.bucket, {
    prefix,
    signal: ctx.signal,
  })) {
    for (const object of page.objects) {
      const rest = object.key.slice(prefix.length);
      if (rest === '') continue; // the prefix's own "directory" object
      const directory = rest.endsWith('/');
      const segments = (directory ? rest.slice(0, -1) : rest).split('/');
      const path = join(root, ...segments);
      if (
        segments.some((s) => s === '' || s === '.' || s === '..') ||
        !path.startsWith(`${root}${sep}`)
      ) {
        throw new ValidationError(
          `refusing to download object key ${JSON.stringify(object.key)}: an empty, "." or ".." path segment cannot map into ${root}`,
        );
      }
      if (directory) directories.push(path);
      else entries.push({ key: object.key, path, size: object.contentLength });
    }
  }
  for (const directory of directories) await mkdir(directory, { recursive: true });
  const progress = treeProgress(ctx, 'Downloading', sum(entries.map((e) => e.size)));
  const bytes = await forEachLimited(
    entries,
    request.parallel,
    ctx.signal,
    async (entry, signal) => {
      await mkdir(join(entry.path, '..'), { recursive: true });
      return downloadToFile(client, {
        bucket: request.bucket,
        key: entry.key,
        path: entry.path,
        filter: request.filter,
        signal,
        progress,
      });
    },
  ).finally(() => progress.stop());
  return { objects: entries.length, bytes: sum(bytes) };
}

/** One bar over the whole tree: per-object totals are ignored. */
function treeProgress(ctx: CommandContext, label: string, total: number): Progress {
  const bar = createProgress(ctx.io, label, total);
  return { setTotal() {}, add: (n) => bar.add(n), stop: () => bar.stop() };
}

/**
 * Runs `task` over `items` with at most `limit` in flight, results in input order. The first
 * failure aborts the others (through the signal each task gets) and is rethrown.
 */
async function forEachLimited<T, R>(
  items: readonly T[],
  limit: number,
  outer: AbortSignal,
  task: (item: T, signal: AbortSignal) => Promise<R>,
): Promise<R[]> {
  const controller = new AbortController();
  const signal = AbortSignal.any([outer, controller.signal]);
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && !signal.aborted && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index] as T, signal);
      } catch (error) {
        failure ??= { error };
        controller.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  signal.throwIfAborted();
  return results;
}

async function listFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  const entries: Dirent[] = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(path)));
    else if (entry.isFile()) files.push(path);
    else if (entry.isSymbolicLink() && (await stat(path).catch(() => undefined))?.isFile()) {
      files.push(path);
    }
  }
  return files;
}

function sum(values: readonly number[]): number {
  return values.reduce((total, n) => total + n, 0);
}
