import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { onPath, tailFiles } from '../../test/helpers/daemon.ts';

// The kernel SIGKILLs the daemon if the bench dies without cleaning up.
const PDEATHSIG = onPath('setpriv') ? ['setpriv', '--pdeathsig', 'SIGKILL', '--'] : [];

export interface BundledDaemon {
  readonly pid: number;
  /** Base URL of the object API. */
  readonly api: string;
  /** Base URL of the piece server, which also serves `/metrics`. */
  readonly pieces: string;
  readonly logFile: string;
  /** Exit code or signal once the process has exited, else undefined. */
  readonly exitStatus: string | undefined;
  /** SIGTERM (a graceful stop), SIGKILL after `timeoutMs`; resolves with the exit status. */
  stop(timeoutMs?: number): Promise<string>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

export interface BundledDaemonOptions {
  /** The esbuild bundle of lib/peer/main.ts. */
  readonly bundle: string;
  /** Holds config.yaml and daemon.log. */
  readonly dir: string;
  readonly config: Record<string, unknown>;
  readonly startTimeoutMs?: number;
  /** Put before `node` (e.g. `ip netns exec <ns>`: run it in a network namespace). */
  readonly prefix?: readonly string[];
  /** Node flags (e.g. `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
}

/**
 * Runs the bundled daemon on plain node (as production would) with a YAML config written to
 * `dir`, and resolves once it logs its `ready` line. Its stderr (JSON logs) goes to daemon.log.
 * The bundled manager (lib/manager/main.ts) starts the same way (its `api`/`pieces` are unset).
 */
export async function startBundledDaemon(options: BundledDaemonOptions): Promise<BundledDaemon> {
  const configPath = join(options.dir, 'config.yaml');
  const logFile = join(options.dir, 'daemon.log');
  await writeFile(configPath, stringify(options.config));
  const log = createWriteStream(logFile, { flags: 'a' });
  const [command = process.execPath, ...args] = [
    ...PDEATHSIG,
    ...(options.prefix ?? []),
    process.execPath,
    ...(options.nodeArgs ?? []),
    options.bundle,
    '--config',
    configPath,
  ];
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let exitStatus: string | undefined;
  const exited = new Promise<string>((resolve) => {
    child.once('close', (code, signal) => {
      exitStatus = signal ? `signal ${signal}` : `exit code ${code}`;
      log.end();
      resolve(exitStatus);
    });
    child.once('error', (error) => {
      exitStatus = `spawn failed: ${error.message}`;
      resolve(exitStatus);
    });
  });
  child.stdout?.pipe(log, { end: false });
  const ready = readyLine(child, (line) => log.write(`${line}\n`));

  const timeoutMs = options.startTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready,
    exited.then((status) => `exited (${status}) before it was ready`),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`not ready after ${timeoutMs} ms`), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  if (typeof outcome === 'string') {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`the peer daemon ${outcome}\n${await tailFiles([logFile], 40)}`);
  }

  return {
    pid: child.pid ?? -1,
    api: String(outcome.api),
    pieces: String(outcome.pieces),
    logFile,
    get exitStatus() {
      return exitStatus;
    },
    async stop(stopTimeoutMs = 30_000) {
      if (exitStatus !== undefined) return exitStatus;
      child.kill('SIGTERM');
      const forced = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(forced);
      }
    },
    async kill() {
      if (exitStatus !== undefined) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Resolves with the parsed `"msg":"ready"` log line; every line is passed to `onLine` too. */
function readyLine(
  child: ChildProcess,
  onLine: (line: string) => void,
): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const stderr = child.stderr;
    if (!stderr) return;
    createInterface({ input: stderr }).on('line', (line) => {
      onLine(line);
      if (!line.includes('"ready"')) return;
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.msg === 'ready') resolve(parsed);
      } catch {}
    });
  });
}
