import { execFile, spawn } from 'node:child_process';
import { accessSync, closeSync, constants, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Long-running child processes for integration tests: spawn, watch, stop, explain failures. */

export interface DaemonSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Receives the daemon's stdout and stderr. */
  readonly outFile: string;
  /** Files whose tails explain a failure (the daemon's own log first). */
  readonly logFiles: readonly string[];
}

export interface Daemon {
  readonly name: string;
  readonly pid: number;
  /** `exit code N` / `signal S` once the process has exited, else undefined. */
  readonly exitStatus: string | undefined;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process has exited. */
  stop(timeoutMs: number): Promise<void>;
  /** The tails of the daemon's log files, for error messages. */
  logTail(): Promise<string>;
}

/** Whether an executable of that name is on PATH. */
export function onPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

// setpriv makes the kernel SIGKILL the daemon when its parent dies, so a crashed test run
// leaves no daemons holding ports and memory behind.
const PDEATHSIG = onPath('setpriv') ? ['setpriv', '--pdeathsig', 'SIGKILL', '--'] : [];

export function startDaemon(spec: DaemonSpec): Daemon {
  const out = openSync(spec.outFile, 'a');
  const [command, ...prefix] = [...PDEATHSIG, spec.command];
  const child = spawn(command ?? spec.command, [...prefix, ...spec.args], {
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  let exitStatus: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitStatus = signal ? `signal ${signal}` : `exit code ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      exitStatus = `spawn failed: ${err.message}`;
      resolve();
    });
  });
  const pid = child.pid ?? -1;
  return {
    name: spec.name,
    pid,
    get exitStatus() {
      return exitStatus;
    },
    async stop(timeoutMs) {
      if (exitStatus !== undefined) return;
      child.kill('SIGTERM');
      if (await settlesWithin(exited, timeoutMs)) return;
      child.kill('SIGKILL');
      if (!(await settlesWithin(exited, 5_000))) {
        throw new Error(`${spec.name} (pid ${pid}) did not exit after SIGKILL`);
      }
    },
    logTail: () => tailFiles(spec.logFiles),
  };
}

/** Throws, with the daemon's log tail, if any of `daemons` has exited. */
export async function assertRunning(daemons: readonly Daemon[]): Promise<void> {
  const dead = daemons.find((d) => d.exitStatus !== undefined);
  if (dead) {
    throw new Error(
      `${dead.name} (pid ${dead.pid}) died during startup (${dead.exitStatus})\n${await dead.logTail()}`,
    );
  }
}

export interface WaitOptions {
  /** What is awaited, for the timeout message. */
  readonly what: string;
  /** Absolute time (ms since epoch) after which waiting fails. */
  readonly deadline: number;
  readonly intervalMs?: number;
  /** Daemons that must stay alive meanwhile; the last one's log explains a timeout. */
  readonly watch: readonly Daemon[];
}

/** Polls `probe` until it returns a value; a throw or `undefined` means "not yet". */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  options: WaitOptions,
): Promise<T> {
  let lastError = '';
  for (;;) {
    await assertRunning(options.watch);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= options.deadline) {
      const last = lastError ? ` (last error: ${lastError.trim().slice(-500)})` : '';
      const tail = (await options.watch.at(-1)?.logTail()) ?? '';
      throw new Error(`timed out waiting for ${options.what}${last}\n${tail}`);
    }
    await sleep(options.intervalMs ?? 250);
  }
}

export interface RunOptions {
  readonly timeoutMs: number;
  /** Names the command in errors instead of its arguments, which may hold secrets. */
  readonly label: string;
  /** Added to the inherited environment. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Runs a command to completion; rejects on a non-zero exit or timeout, with its stderr tail. */
export function run(
  command: string,
  args: readonly string[],
  options: RunOptions,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, ...options.env },
      },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const why = err.killed ? `timed out after ${options.timeoutMs} ms` : `failed (${err.code})`;
        reject(new Error(`${options.label} ${why}: ${`${stderr}${stdout}`.trim().slice(-2000)}`));
      },
    );
  });
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/** The last `lines` lines of each file (reading only its last 32 KiB), headed by its path. */
export async function tailFiles(paths: readonly string[], lines = 40): Promise<string> {
  const parts = await Promise.all(
    paths.map(async (path) => {
      try {
        const handle = await open(path, 'r');
        try {
          const { size } = await handle.stat();
          const length = Math.min(size, 32 * 1024);
          const buffer = Buffer.alloc(length);
          await handle.read(buffer, 0, length, size - length);
          const text = buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
          return `--- ${path} (last ${lines} lines) ---\n${text}`;
        } finally {
          await handle.close();
        }
      } catch {
        return `--- ${path}: not written ---`;
      }
    }),
  );
  return parts.join('\n');
}

function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  return Promise.race([promise.then(() => true), sleep(ms, false, { ref: false })]);
}
