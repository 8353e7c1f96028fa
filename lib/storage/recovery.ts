import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from './deps.ts';
import { isAtomicTempName, isErrnoCode } from './durable-fs.ts';
import { DATA_FILE, isTaskId, META_FILE, type StoreLayout } from './layout.ts';
import type { PieceBitmap } from './piece-bitmap.ts';
import { parseTaskMeta, presentBitmap, type TaskMeta } from './task-meta.ts';

export interface RecoveredTask {
  readonly meta: TaskMeta;
  readonly present: PieceBitmap;
  /** meta.json's mtime (ms): the LRU seed. */
  readonly lastAccess: number;
}

/**
 * Startup recovery of the piece store. Removes `staging/` and `trash/` leftovers (imports that
 * never committed, removals that never finished), then loads every task directory, trusting
 * nothing: a task whose meta.json is missing, malformed, names another task or disagrees with
 * its data file's size is deleted. Because meta is only ever replaced atomically and only after
 * the data it describes was synced, a task that passes these checks holds what it claims.
 * Entries under `tasks/` whose names are not task IDs are left alone and logged.
 */
export async function recoverTasks(layout: StoreLayout, logger: Logger): Promise<RecoveredTask[]> {
  await emptyDir(layout.stagingDir);
  await emptyDir(layout.trashDir);
  const tasks: RecoveredTask[] = [];
  for (const prefix of await listDir(layout.tasksDir)) {
    const prefixPath = join(layout.tasksDir, prefix);
    if (!/^[0-9a-f]{3}$/.test(prefix)) {
      logger.warn({ path: prefixPath }, 'ignoring a foreign entry in the task directory');
      continue;
    }
    for (const name of await listDir(prefixPath)) {
      if (!isTaskId(name) || !name.startsWith(prefix)) {
        logger.warn(
          { path: join(prefixPath, name) },
          'ignoring a foreign entry in the task directory',
        );
        continue;
      }
      const task = await loadTask(layout, name).catch((error: unknown) => {
        logger.warn({ taskId: name, err: error }, 'dropping an inconsistent task');
        return undefined;
      });
      if (task) tasks.push(task);
      else await rm(layout.taskDir(name), { recursive: true, force: true });
    }
  }
  return tasks;
}

async function loadTask(layout: StoreLayout, taskId: string): Promise<RecoveredTask> {
  const dir = layout.taskDir(taskId);
  for (const name of await listDir(dir)) {
    if (isAtomicTempName(name)) await rm(join(dir, name), { force: true });
  }
  const metaPath = join(dir, META_FILE);
  const [text, metaStat, dataStat] = await Promise.all([
    readFile(metaPath, 'utf8'),
    stat(metaPath),
    stat(join(dir, DATA_FILE)),
  ]);
  const meta = parseTaskMeta(text, taskId);
  // Complete data files are exactly the object; partial ones are created at full length.
  if (dataStat.size !== meta.contentLength) {
    throw new Error(`data file has ${dataStat.size} bytes, meta says ${meta.contentLength}`);
  }
  return { meta, present: presentBitmap(meta), lastAccess: metaStat.mtimeMs };
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return [];
    throw error;
  }
}

async function emptyDir(path: string): Promise<void> {
  for (const name of await listDir(path)) {
    await rm(join(path, name), { recursive: true, force: true });
  }
}
