import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { BackendConfigInput } from '../../lib/config/backend-config.ts';
import { onPath, tailFiles } from './daemon.ts';

/** A real `dfstore-daemon` process for integration tests (node bin/dfstore-daemon.js). */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
// As in daemon.ts: the kernel SIGKILLs the daemon if the test runner dies.
const PDEATHSIG = onPath('setpriv') ? ['setpriv', '--pdeathsig', 'SIGKILL', '--'] : [];

export interface PeerDaemonOptions {
  readonly backend: BackendConfigInput;
  /** Default: `data/` in the daemon's temp dir. */
  readonly dataDir?: string;
  /** Deep-merged over the generated config (e.g. `{ objectStorage: { maxReplicas: 5 } }`). */
  readonly extraConfig?: Record<string, unknown>;
  /** Added to the inherited environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Names the daemon in errors; default `peer`. */
  readonly name?: string;
  readonly startTimeoutMs?: number;
  /**
   * Wraps the daemon's command line (`[node, bin/dfstore-daemon.js, --config, path]`), e.g. to
   * run it in a private mount namespace; the wrapper must exec it (same PID).
   */
  readonly launcher?: (argv: readonly string[]) => string[];
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface PeerDaemon {
  /** Base URL of the object API (`https://…` with TLS). Changes only if restart() must. */
  readonly api: string;
  /** Base URL of the piece server (also `/metrics` unless configured elsewhere). */
  readonly pieces: string;
  readonly metrics?: string;
  readonly dataDir: string;
  readonly configPath: string;
  /** stdout + stderr of every run of the process, appended. */
  readonly logFile: string;
  readonly pid: number;
  /** The parsed `ready` log line of the current run. */
  readonly ready: Readonly<Record<string, unknown>>;
  /** Resolves when the current run exits. */
  readonly exited: Promise<ExitStatus>;
  /** Sends `signal` and waits for the exit (SIGKILL after `timeoutMs`). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitStatus>;
  /** SIGKILL (a crash) and wait for the exit. */
  kill(): Promise<ExitStatus>;
  /** Stops the current run (SIGTERM) if it is running, then starts again on the same ports. */
  restart(): Promise<void>;
  /** Kills the process if running and removes the temp dir (and a dataDir inside it). */
  dispose(): Promise<void>;
  logTail(lines?: number): Promise<string>;
}

interface Run {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitStatus>;
  readonly ready: Record<string, unknown>;
}

const live = new Set<PeerDaemon>();

/** Disposes every daemon this helper started and that is not disposed yet (for afterAll). */
export async function disposeAllPeerDaemons(): Promise<void> {
  await Promise.all([...live].map((daemon) => daemon.dispose()));
}

/**
 * Writes a config (every listener on 127.0.0.1 port 0) to a temp dir, spawns the daemon and
 * waits for its `ready` line. Startup failures throw with the tail of the daemon's output.
 */
export async function startPeerDaemon(options: PeerDaemonOptions): Promise<PeerDaemon> {
  const name = options.name ?? 'peer';
  const work = await mkdtemp(join(tmpdir(), `dfstore-${name}-`));
  const dataDir = options.dataDir ?? join(work, 'data');
  const configPath = join(work, 'config.yaml');
  const logFile = join(work, 'daemon.log');
  const base = {
    logLevel: 'debug',
    shutdownTimeout: '20s',
    storage: { dataDir },
    objectStorage: { tcpListen: { listen: '127.0.0.1', port: 0 } },
    upload: { tcpListen: { listen: '127.0.0.1', port: 0 } },
    backend: options.backend,
  };
  let config = deepMerge(base, options.extraConfig ?? {});
  await mkdir(dataDir, { recursive: true });
  await writeFile(configPath, stringify(config));
  const log = createWriteStream(logFile, { flags: 'a' });
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  // Reads configPath afresh: a restart rewrites it first.
  const spawnRun = () =>
    spawnDaemon({
      name,
      configPath,
      log,
      logFile,
      env: options.env,
      timeoutMs,
      launcher: options.launcher,
    });
  let run: Run;
  try {
    run = await spawnRun();
  } catch (error) {
    // The error carries the log's tail; nothing else is left to look at.
    await new Promise<void>((resolve) => log.end(() => resolve()));
    await rm(work, { recursive: true, force: true });
    throw error;
  }
  let disposed = false;

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', stopTimeoutMs = 60_000) => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill(signal);
    const status = await Promise.race([run.exited, delay(stopTimeoutMs)]);
    if (status) return status;
    run.child.kill('SIGKILL');
    await run.exited;
    throw new Error(
      `${name} did not exit within ${stopTimeoutMs} ms of ${signal}\n${await tail()}`,
    );
  };
  const tail = (lines = 60) => tailFiles([logFile], lines);

  const daemon: PeerDaemon = {
    get api() {
      return String(run.ready.api);
    },
    get pieces() {
      return String(run.ready.pieces);
    },
    get metrics() {
      return run.ready.metrics === undefined ? undefined : String(run.ready.metrics);
    },
    dataDir,
    configPath,
    logFile,
    get pid() {
      return run.child.pid ?? -1;
    },
    get ready() {
      return run.ready;
    },
    get exited() {
      return run.exited;
    },
    stop,
    kill: () => stop('SIGKILL'),
    async restart() {
      await stop('SIGTERM');
      // Same ports as before: peers and clients keep their addresses across a restart.
      config = deepMerge(config, {
        objectStorage: { tcpListen: { port: portOf(run.ready.api) } },
        upload: { tcpListen: { port: portOf(run.ready.pieces) } },
      });
      await writeFile(configPath, stringify(config));
      run = await spawnRun();
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      live.delete(daemon);
      if (run.child.exitCode === null && run.child.signalCode === null) {
        run.child.kill('SIGKILL');
        await run.exited;
      }
      await new Promise<void>((resolve) => log.end(() => resolve()));
      await rm(work, { recursive: true, force: true });
    },
    logTail: tail,
  };
  live.add(daemon);
  return daemon;
}

async function spawnDaemon(spec: {
  name: string;
  configPath: string;
  log: WriteStream;
  logFile: string;
  env?: Readonly<Record<string, string>>;
  timeoutMs: number;
  launcher?: (argv: readonly string[]) => string[];
}): Promise<Run> {
  const argv = [process.execPath, 'bin/dfstore-daemon.js', '--config', spec.configPath];
  const args = [...PDEATHSIG, ...(spec.launcher?.(argv) ?? argv)];
  const [command = process.execPath, ...rest] = args;
  const child = spawn(command, rest, {
    cwd: repoRoot,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<ExitStatus>((resolve) => {
    // 'close' comes after 'exit' once stdout and stderr are drained: the log file is complete.
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  child.stdout?.pipe(spec.log, { end: false });
  // Lines are copied to the log file as they come, and scanned for the ready line.
  const ready = new Promise<Record<string, unknown>>((resolve) => {
    const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      spec.log.write(`${line}\n`);
      if (!line.includes('"ready"')) return;
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.msg === 'ready') resolve(parsed);
      } catch {}
    });
  });
  type Outcome =
    | { kind: 'ready'; line: Record<string, unknown> }
    | { kind: 'exited'; status: ExitStatus }
    | { kind: 'timeout' };
  const outcome = await Promise.race<Outcome>([
    ready.then((line) => ({ kind: 'ready', line })),
    exited.then((status) => ({ kind: 'exited', status })),
    delay(spec.timeoutMs).then(() => ({ kind: 'timeout' })),
  ]);
  if (outcome.kind === 'ready') return { child, exited, ready: outcome.line };
  child.kill('SIGKILL');
  await exited;
  const why =
    outcome.kind === 'exited'
      ? `exited (${outcome.status.signal ?? `code ${outcome.status.code}`}) before it was ready`
      : `not ready after ${spec.timeoutMs} ms`;
  throw new Error(`${spec.name} daemon ${why}\n${await tailFiles([spec.logFile], 60)}`);
}

function portOf(url: unknown): number {
  return Number(new URL(String(url)).port);
}

function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `extra` over `base`: objects merge key by key, everything else replaces. */
export function deepMerge(
  base: Record<string, unknown>,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}
