import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * The local cluster's child processes: spawns Node entry points with their output appended to a
 * log file, waits for their JSON `ready` line, reports a process that exits on its own, and stops
 * them all.
 */

export interface ProcessSpec {
  readonly name: string;
  /** A Node entry point (e.g. bin/dfstore-daemon.js). */
  readonly script: string;
  readonly args?: readonly string[];
  /** Added to the inherited environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly logFile: string;
}

export interface Supervisor {
  /**
   * Starts a process and resolves with its parsed ready line. Rejects, naming the log file, when
   * it exits first or is not ready within the start timeout.
   */
  start(spec: ProcessSpec): Promise<Record<string, unknown>>;
  /** True once stopAll() was called: exits are expected from then on. */
  readonly stopping: boolean;
  /** SIGTERM to every running process (SIGKILL after the stop timeout); true if all exited 0. */
  stopAll(): Promise<boolean>;
  /** SIGKILL to every running process, at once. */
  killAll(): void;
}

export interface SupervisorOptions {
  /** A process that was ready exits while not stopping (a crash). */
  readonly onUnexpectedExit: (name: string, status: string, logFile: string) => void;
  readonly startTimeoutMs?: number;
  /** The daemons' default shutdownTimeout is 30 s; give them that and a margin. */
  readonly stopTimeoutMs?: number;
}

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<string>;
  status?: string;
}

export function createSupervisor(options: SupervisorOptions): Supervisor {
  const children: Child[] = [];
  let stopping = false;
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 40_000;

  const start = (spec: ProcessSpec): Promise<Record<string, unknown>> => {
    const child = spawn(process.execPath, [spec.script, ...(spec.args ?? [])], {
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = createWriteStream(spec.logFile, { flags: 'a' });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const entry: Child = {
      name: spec.name,
      process: child,
      exited: new Promise<string>((resolve) => {
        child.once('error', (error) => resolve(`spawn failed: ${error.message}`));
        // 'close' follows 'exit' once stdout and stderr are drained: the log is complete.
        child.once('close', (code, signal) => {
          log.end();
          resolve(signal ? `signal ${signal}` : `exit code ${code}`);
        });
      }),
    };
    void entry.exited.then((status) => {
      entry.status = status;
    });
    children.push(entry);

    return new Promise((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        reject(new Error(`${spec.name} not ready after ${timeoutMs} ms; see ${spec.logFile}`));
      }, timeoutMs);
      const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
      lines.on('line', (line) => {
        if (ready || !line.includes('"ready"')) return;
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (parsed.msg !== 'ready') return;
          ready = true;
          clearTimeout(timer);
          resolve(parsed);
        } catch {
          // not the JSON ready line
        }
      });
      void entry.exited.then((status) => {
        clearTimeout(timer);
        if (!ready) {
          reject(
            new Error(`${spec.name} exited (${status}) before it was ready; see ${spec.logFile}`),
          );
        } else if (!stopping) {
          options.onUnexpectedExit(spec.name, status, spec.logFile);
        }
      });
    });
  };

  const stopOne = async (child: Child): Promise<string> => {
    if (child.status === undefined) child.process.kill('SIGTERM');
    const timer = setTimeout(() => child.process.kill('SIGKILL'), stopTimeoutMs);
    const status = await child.exited;
    clearTimeout(timer);
    return status;
  };

  return {
    start,
    get stopping() {
      return stopping;
    },
    async stopAll() {
      stopping = true;
      const statuses = await Promise.all(children.map(stopOne));
      return statuses.every((status) => status === 'exit code 0');
    },
    killAll() {
      stopping = true;
      for (const child of children) {
        if (child.status === undefined) child.process.kill('SIGKILL');
      }
    },
  };
}
