import { randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from './deps.ts';
import { fsyncDir, isErrnoCode, writeFileAtomic } from './durable-fs.ts';
import { DATA_FILE, type StoreLayout } from './layout.ts';
import { serializeTaskMeta, type TaskMeta } from './task-meta.ts';

/**
 * The disk side of the piece store: creating, installing and trashing task directories, each
 * step ordered so a crash leaves either the old state or the new one. Callers serialize
 * operations on one task ID (the store's per-task mutex); nothing here touches memory state.
 */
export class TaskDirs {
  readonly #background = new Set<Promise<void>>();

  constructor(
    readonly layout: StoreLayout,
    private readonly logger: Logger,
  ) {}

  /** A fresh staging directory with an empty data file opened for writing. */
  async createStaging(): Promise<{ path: string; handle: FileHandle }> {
    const path = join(this.layout.stagingDir, randomUUID());
    await mkdir(path);
    try {
      return { path, handle: await open(join(path, DATA_FILE), 'wx+') };
    } catch (error) {
      await rm(path, { recursive: true, force: true });
      throw error;
    }
  }

  async discardStaging(stagingPath: string): Promise<void> {
    await rm(stagingPath, { recursive: true, force: true });
  }

  /**
   * Renames a committed staging directory (data and meta already fsynced) to the task's
   * directory, replacing whatever was there, and fsyncs the directories involved.
   */
  async installStaged(stagingPath: string, taskId: string): Promise<void> {
    await this.trash(taskId);
    const prefixDir = this.layout.prefixDir(taskId);
    const madePrefix = await mkdir(prefixDir, { recursive: true });
    await rename(stagingPath, this.layout.taskDir(taskId));
    await fsyncDir(prefixDir);
    if (madePrefix !== undefined) await fsyncDir(this.layout.tasksDir);
    await fsyncDir(this.layout.stagingDir);
  }

  /**
   * Creates a partial task's directory: a data file of the full length (sparse), synced, then
   * meta.json (written atomically), then the directory entries synced.
   */
  async createPartial(meta: TaskMeta): Promise<void> {
    const { taskId } = meta;
    const prefixDir = this.layout.prefixDir(taskId);
    const madePrefix = await mkdir(prefixDir, { recursive: true });
    await this.trash(taskId); // a stray directory nobody knows about
    await mkdir(this.layout.taskDir(taskId));
    const handle = await open(this.layout.dataFile(taskId), 'wx');
    try {
      await handle.truncate(meta.contentLength);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await this.writeMeta(meta);
    await fsyncDir(prefixDir);
    if (madePrefix !== undefined) await fsyncDir(this.layout.tasksDir);
  }

  /** Atomically replaces the task's meta.json. */
  async writeMeta(meta: TaskMeta): Promise<void> {
    await writeFileAtomic(this.layout.metaFile(meta.taskId), serializeTaskMeta(meta));
  }

  /**
   * Renames the task directory into trash/ (atomic: the task is gone at once) and deletes it in
   * the background; recovery empties trash/ after a crash. Open file descriptors keep working.
   */
  async trash(taskId: string): Promise<void> {
    const trashed = join(this.layout.trashDir, randomUUID());
    try {
      await rename(this.layout.taskDir(taskId), trashed);
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) return;
      throw error;
    }
    const deletion: Promise<void> = rm(trashed, { recursive: true, force: true })
      .catch((error) => this.logger.warn({ err: error }, 'could not delete trash'))
      .finally(() => this.#background.delete(deletion));
    this.#background.add(deletion);
  }

  /** Waits for background deletions. */
  async settled(): Promise<void> {
    await Promise.all(this.#background);
  }
}
