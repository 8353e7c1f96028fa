import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tailFiles } from '../../test/helpers/daemon.ts';
import { bundleEntry } from './bundle.ts';
import { type BundledDaemon, startBundledDaemon } from './bundled-daemon.ts';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * What every single-machine bench needs: a scratch dir, a stack of stop functions run last first
 * on success, failure or Ctrl-C, and the load average around the run (the machine is shared).
 */
export interface BenchSession {
  readonly name: string;
  readonly scratch: string;
  readonly stops: (() => Promise<unknown>)[];
  readonly loadAtStart: number[];
  /** Logs whose tails are printed when the bench fails. */
  readonly logFiles: string[];
  /** Idempotent: stops everything (last first) and removes the scratch dir (unless kept). */
  cleanup(): Promise<void>;
  /** Runs the bench body: on error prints the log tails, cleans up and exits 1. */
  run(body: () => Promise<void>): Promise<void>;
  /** Bundles lib/peer/main.ts once (removed at cleanup). */
  bundle(): Promise<string>;
  /** Starts the bundled daemon in a dir of its own under scratch (killed at cleanup). */
  startDaemon(
    label: string,
    config: Record<string, unknown>,
    nodeArgs?: readonly string[],
  ): Promise<BundledDaemon>;
}

export function benchSession(name: string, options: { keep?: boolean } = {}): BenchSession {
  const scratch = mkdtempSync(join(tmpdir(), `dfstore-bench-${name}-`));
  const stops: (() => Promise<unknown>)[] = [];
  const logFiles: string[] = [];
  let cleaning: Promise<void> | undefined;
  let interrupted = false;
  let bundle: Promise<string> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      for (const stop of stops.reverse()) await stop().catch(() => {});
      if (options.keep) console.error(`kept ${scratch}`);
      else rmSync(scratch, { recursive: true, force: true });
    })();
    return cleaning;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      console.error(`\n${signal}: stopping processes and removing ${scratch}`);
      void cleanup().then(() => process.exit(130));
    });
  }
  const session: BenchSession = {
    name,
    scratch,
    stops,
    logFiles,
    loadAtStart: loadavg(),
    cleanup,
    async run(body) {
      try {
        await body();
      } catch (error) {
        // After a signal, failures are the interruption's doing; the handler exits.
        if (interrupted) return;
        if (logFiles.length > 0) console.error(await tailFiles(logFiles, 30));
        await cleanup();
        console.error(`${name} failed: ${error instanceof Error ? error.stack : String(error)}`);
        process.exit(1);
      }
      await cleanup();
    },
    bundle() {
      bundle ??= bundleEntry(join(here, '..', '..', 'lib', 'peer', 'main.ts'), {
        // Readable function names when profiling.
        minify: !process.env.DFSTORE_BENCH_UNMINIFIED,
      }).then((file) => {
        stops.unshift(async () => rmSync(dirname(file), { recursive: true, force: true }));
        return file;
      });
      return bundle;
    },
    async startDaemon(label, config, nodeArgs) {
      const dir = mkdtempSync(join(scratch, `${label}-`));
      const daemon = await startBundledDaemon({
        bundle: await session.bundle(),
        dir,
        config,
        nodeArgs,
      });
      logFiles.push(daemon.logFile);
      stops.push(() => daemon.stop(10_000));
      return daemon;
    },
  };
  return session;
}

/** A daemon config on 127.0.0.1 (free ports) with its cache under `dataDir`. */
export function localDaemonConfig(
  backend: Record<string, unknown>,
  dataDir: string,
  capacity: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    logLevel: 'info',
    shutdownTimeout: '10s',
    objectStorage: { tcpListen: { listen: '127.0.0.1', port: 0 } },
    upload: { tcpListen: { listen: '127.0.0.1', port: 0 } },
    storage: { dataDir, capacity },
    backend,
    ...extra,
  };
}

/** `--cpu-prof` node flags writing into `<scratch>/profiles` when `on`. */
export function cpuProfArgs(session: BenchSession, on: boolean): string[] {
  return on ? ['--cpu-prof', `--cpu-prof-dir=${join(session.scratch, 'profiles')}`] : [];
}

/** Pending + running write-backs, from the daemon's Prometheus text. */
export async function writeBacksLeft(daemon: BundledDaemon): Promise<number> {
  const text = await (await fetch(`${daemon.pieces}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return value('dfstore_journal_pending') + value('dfstore_journal_in_flight');
}

export async function waitForWriteBacks(daemon: BundledDaemon, timeoutMs = 10 * 60_000) {
  const deadline = Date.now() + timeoutMs;
  while ((await writeBacksLeft(daemon)) > 0) {
    if (daemon.exitStatus !== undefined) throw new Error(`daemon died (${daemon.exitStatus})`);
    if (Date.now() > deadline) throw new Error(`write-backs still pending after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export const metOrMissed = (met: boolean) => (met ? 'met' : 'missed');
