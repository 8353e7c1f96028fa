import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { onPath, tailFiles } from '../../test/helpers/daemon.ts';

/**
 * A helper process that speaks JSON lines (bench/lib/netns-worker.ts, netns-s3-main.ts): its
 * first stdout line says it is ready; then each command written to its stdin, tagged with an
 * `id`, is answered by a stdout line with the same `id`. Its stderr goes to a log file.
 */
export interface LineProcess<Ready> {
  readonly pid: number;
  /** The first line it printed. */
  readonly ready: Ready;
  readonly logFile: string;
  /** Sends a command (an `id` is added) and resolves with the answer's line; rejects on `error`. */
  call<T>(command: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Closes its stdin, sends `signal` (none: stdin alone) and waits; SIGKILL after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

// The kernel signals the helper when the bench dies without stopping it.
const deathSignal = (signal: string) =>
  onPath('setpriv') ? ['setpriv', '--pdeathsig', signal, '--'] : [];

export async function startLineProcess<Ready>(options: {
  readonly argv: readonly string[];
  readonly logFile: string;
  readonly startTimeoutMs: number;
  /** Sent to it if the bench dies: SIGKILL, or SIGTERM to let it clean up. */
  readonly deathSignal?: 'SIGKILL' | 'SIGTERM';
}): Promise<LineProcess<Ready>> {
  const [command = '', ...args] = [
    ...deathSignal(options.deathSignal ?? 'SIGKILL'),
    ...options.argv,
  ];
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const child: ChildProcess = spawn(command, args, { cwd: repoRoot, stdio: 'pipe' });
  child.stderr?.pipe(log);
  child.stdin?.on('error', () => {}); // EPIPE once it exited: the 'close' handler reports it
  let exitStatus: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('close', (code, signal) => {
      exitStatus = signal ? `signal ${signal}` : `exit code ${code}`;
      for (const { reject } of pending.values()) reject(new Error(`helper exited (${exitStatus})`));
      pending.clear();
      resolve();
    });
  });
  const pending = new Map<number, Pending>();
  let first: ((line: unknown) => void) | undefined;
  const ready = new Promise<unknown>((resolve) => {
    first = resolve;
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line) as Record<string, unknown>;
    } catch {
      log.write(`stdout: ${line}\n`);
      return;
    }
    if (first) {
      first(value);
      first = undefined;
      return;
    }
    const waiter = pending.get(Number(value.id));
    if (!waiter) return;
    pending.delete(Number(value.id));
    if (typeof value.error === 'string') waiter.reject(new Error(value.error));
    else waiter.resolve(value);
  });

  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready.then((value) => ({ value })),
    exited.then(() => `exited (${exitStatus}) before it was ready`),
    new Promise<string>((resolve) => {
      timer = setTimeout(
        () => resolve(`not ready in ${options.startTimeoutMs} ms`),
        options.startTimeoutMs,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  if (typeof outcome === 'string') {
    child.kill('SIGKILL');
    await exited;
    throw new Error(
      `${options.argv.join(' ')}: ${outcome}\n${await tailFiles([options.logFile], 30)}`,
    );
  }

  let nextId = 1;
  return {
    pid: child.pid ?? -1,
    ready: outcome.value as Ready,
    logFile: options.logFile,
    call<T>(command: Record<string, unknown>, timeoutMs = 15 * 60_000) {
      if (exitStatus !== undefined)
        return Promise.reject(new Error(`helper exited (${exitStatus})`));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timeout = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`no answer to ${JSON.stringify(command)} in ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (value) => {
            clearTimeout(timeout);
            resolve(value as T);
          },
          reject: (error) => {
            clearTimeout(timeout);
            reject(error);
          },
        });
        child.stdin?.write(`${JSON.stringify({ ...command, id })}\n`);
      });
    },
    async stop(signal, timeoutMs = 30_000) {
      if (exitStatus !== undefined) return;
      child.stdin?.end();
      if (signal) child.kill(signal);
      const forced = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(forced);
    },
  };
}
