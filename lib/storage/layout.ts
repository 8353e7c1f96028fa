import { join } from 'node:path';
import { ValidationError } from '../core/errors.ts';

const TASK_ID_RE = /^[0-9a-f]{64}$/;

/** Whether `value` is a task ID: 64 lower-case hex characters (a sha256, PROTOCOL.md §5). */
export function isTaskId(value: string): boolean {
  return TASK_ID_RE.test(value);
}

/**
 * Returns `value` when it is a task ID, else throws ValidationError. Every path below is built
 * from a value that passed this check, so nothing a client sends (keys, buckets) becomes a path.
 */
export function assertTaskId(value: string): string {
  if (!isTaskId(value)) throw new ValidationError(`invalid task id ${JSON.stringify(value)}`);
  return value;
}

/**
 * Where the piece store keeps things under `dataDir`:
 * - `tasks/<id[0:3]>/<id>/data` and `meta.json`: one directory per task (one object version);
 * - `staging/<random>/`: imports in progress, renamed into `tasks/` on commit;
 * - `trash/<random>/`: removed task directories, deleted in the background and at startup.
 * All three live on one file system so the renames between them are atomic.
 */
export interface StoreLayout {
  readonly tasksDir: string;
  readonly stagingDir: string;
  readonly trashDir: string;
  prefixDir(taskId: string): string;
  taskDir(taskId: string): string;
  dataFile(taskId: string): string;
  metaFile(taskId: string): string;
}

export const DATA_FILE = 'data';
export const META_FILE = 'meta.json';

export function storeLayout(dataDir: string): StoreLayout {
  const tasksDir = join(dataDir, 'tasks');
  const prefixDir = (taskId: string) => join(tasksDir, assertTaskId(taskId).slice(0, 3));
  const taskDir = (taskId: string) => join(prefixDir(taskId), taskId);
  return {
    tasksDir,
    stagingDir: join(dataDir, 'staging'),
    trashDir: join(dataDir, 'trash'),
    prefixDir,
    taskDir,
    dataFile: (taskId) => join(taskDir(taskId), DATA_FILE),
    metaFile: (taskId) => join(taskDir(taskId), META_FILE),
  };
}
