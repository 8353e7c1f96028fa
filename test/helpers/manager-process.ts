import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { ManagerConfigInput } from '../../lib/config/manager-config.ts';
import { onPath, tailFiles } from './daemon.ts';
import { deepMerge, type ExitStatus } from './peer-daemon.ts';

/**
 * A real `dfstore-manager` process (node bin/dfstore-manager.js) for integration tests, on a
 * fixed port so that daemons keep its address across stop() and start().
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
// As in daemon.ts: the kernel SIGKILLs the manager if the test runner dies.
const PDEATHSIG = onPath('setpriv') ? ['setpriv', '--pdeathsig', 'SIGKILL', '--'] : [];

export interface ManagerProcess {
  /** `http://127.0.0.1:<port>`, the same across restarts. */
  readonly url: string;
  readonly port: number;
  readonly configPath: string;
  /** stdout + stderr of every run, appended. */
  readonly logFile: string;
  /** The config of the current (or next) run, as written to configPath. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly running: boolean;
  /** SIGTERM (default) and wait for the exit; a no-op when not running. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus | undefined>;
  /**
   * (Re)starts it: stops a running one first, deep-merges `configOverride` into the config
   * (kept for later runs; arrays and scalars replace) and waits for the ready line.
   */
  start(configOverride?: Record<string, unknown>): Promise<void>;
  /** Kills it if running and removes its temp dir. */
  dispose(): Promise<void>;
  logTail(lines?: number): Promise<string>;
}

interface Run {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitStatus>;
  status?: ExitStatus;
}

export async function startManagerProcess(options: {
  /** The listen address and port are set here: 127.0.0.1 and `port`. */
  readonly config: ManagerConfigInput;
  readonly port: number;
  readonly name?: string;
  readonly startTimeoutMs?: number;
}): Promise<ManagerProcess> {
  const name = options.name ?? 'manager';
  const work = await mkdtemp(join(tmpdir(), `dfstore-${name}-`));
  const configPath = join(work, 'manager.yaml');
  const logFile = join(work, 'manager.log');
  const log = createWriteStream(logFile, { flags: 'a' });
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  let config: Record<string, unknown> = {
    logLevel: 'debug',
    ...options.config,
    listen: '127.0.0.1',
    port: options.port,
  };
  let run: Run | undefined;
  const tail = (lines = 60) => tailFiles([logFile], lines);

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const current = run;
    if (!current) return undefined;
    run = undefined;
    if (!current.status) current.child.kill(signal);
    return current.exited;
  };

  const start = async (configOverride: Record<string, unknown> = {}) => {
    await stop();
    config = deepMerge(config, configOverride);
    await writeFile(configPath, stringify(config));
    run = await spawnManager({ name, configPath, log, logFile, timeoutMs });
  };

  try {
    await start();
  } catch (error) {
    await new Promise<void>((resolve) => log.end(() => resolve()));
    await rm(work, { recursive: true, force: true });
    throw error;
  }
  let disposed = false;
  return {
    url: `http://127.0.0.1:${options.port}`,
    port: options.port,
    configPath,
    logFile,
    get config() {
      return config;
    },
    get running() {
      return run !== undefined && run.status === undefined;
    },
    stop,
    start,
    async dispose() {
      if (disposed) return;
      disposed = true;
      await stop('SIGKILL');
      await new Promise<void>((resolve) => log.end(() => resolve()));
      await rm(work, { recursive: true, force: true });
    },
    logTail: tail,
  };
}

async function spawnManager(spec: {
  name: string;
  configPath: string;
  log: WriteStream;
  logFile: string;
  timeoutMs: number;
}): Promise<Run> {
  const [command = process.execPath, ...args] = [
    ...PDEATHSIG,
    process.execPath,
    'bin/dfstore-manager.js',
    '--config',
    spec.configPath,
  ];
  const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const run: Run = {
    child,
    exited: new Promise<ExitStatus>((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    }),
  };
  void run.exited.then((status) => {
    run.status = status;
  });
  child.stdout?.pipe(spec.log, { end: false });
  const ready = new Promise<void>((resolve) => {
    const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      spec.log.write(`${line}\n`);
      if (line.includes('"ready"')) resolve();
    });
  });
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready.then(() => 'ready' as const),
    run.exited.then(() => 'exited' as const),
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), spec.timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (outcome === 'ready') return run;
  child.kill('SIGKILL');
  const status = await run.exited;
  const why =
    outcome === 'exited'
      ? `exited (${status.signal ?? `code ${status.code}`}) before it was ready`
      : `not ready after ${spec.timeoutMs} ms`;
  throw new Error(`${spec.name} ${why}\n${await tailFiles([spec.logFile], 60)}`);
}
