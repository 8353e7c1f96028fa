import cliProgress from 'cli-progress';
import type { CliIo } from './context.ts';

/** Byte progress of a transfer; a no-op unless stderr is a terminal. */
export interface Progress {
  /** Sets the total once known (a download learns it from the response). */
  setTotal(total: number): void;
  /** Adds transferred bytes. */
  add(bytes: number): void;
  stop(): void;
}

const noop: Progress = { setTotal() {}, add() {}, stop() {} };

/**
 * A progress bar on stderr, only when stderr is a TTY: stdout stays clean for scripts and the
 * success line, and piped or captured stderr gets no control characters.
 */
export function createProgress(io: CliIo, label: string, total?: number): Progress {
  if (!io.stderr.isTTY) return noop;
  let value = 0;
  let running = false;
  let size = 0;
  const started = Date.now();
  const bar = new cliProgress.SingleBar(
    {
      stream: io.stderr,
      format: `${label} [{bar}] {percentage}% | {done} / {size} | {rate}`,
      barCompleteChar: '=',
      barIncompleteChar: ' ',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.legacy,
  );
  const payload = () => ({
    done: formatBytes(value),
    size: formatBytes(size),
    rate: `${formatBytes((value / Math.max(Date.now() - started, 1)) * 1000)}/s`,
  });
  // Drawn once the total is known: a bar over an unknown total would show nonsense.
  const start = (total: number) => {
    running = true;
    size = total;
    bar.start(total, value, payload());
  };
  if (total !== undefined) start(total);
  return {
    setTotal(next) {
      if (!running) return start(next);
      size = next;
      bar.setTotal(next);
    },
    add(bytes) {
      value += bytes;
      if (running) bar.update(value, payload());
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes;
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(n)} ${units[0]}` : `${n.toFixed(1)} ${units[unit]}`;
}
