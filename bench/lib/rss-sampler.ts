import { readFileSync, writeFileSync } from 'node:fs';

export interface ProcMemory {
  /** Resident set size now (bytes). */
  readonly rss: number;
  /** Peak resident set size since start or the last peak reset (bytes). */
  readonly hwm: number;
}

/** VmRSS and VmHWM of a process from /proc/<pid>/status; undefined once it has gone. */
export function readProcMemory(pid: number): ProcMemory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  const rss = kib('VmRSS');
  const hwm = kib('VmHWM');
  return Number.isFinite(rss) && Number.isFinite(hwm)
    ? { rss: rss * 1024, hwm: hwm * 1024 }
    : undefined;
}

/**
 * Resets the kernel's VmHWM to the current RSS (`echo 5 > /proc/<pid>/clear_refs`, Linux ≥ 4.0),
 * so that VmHWM becomes the exact peak of the next operation. False when not permitted.
 */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface WindowPeak {
  /** Highest VmRSS among the samples of the window (bytes). */
  readonly sampledRss: number;
  /** VmHWM at the end of the window: its exact peak when the reset worked, else since start. */
  readonly hwm: number;
  readonly hwmIsWindowPeak: boolean;
  readonly samples: number;
}

export interface RssSampler {
  /** Starts a new measuring window (and resets VmHWM). */
  mark(): void;
  /** The peaks of the window since the last mark(), sampling once more first. */
  peak(): WindowPeak;
  stop(): void;
}

/** Samples a process's VmRSS every `intervalMs`, tracking the peak per window. */
export function sampleRss(pid: number, intervalMs = 100): RssSampler {
  let sampledRss = 0;
  let hwm = 0;
  let samples = 0;
  let resetWorked = false;
  const sample = () => {
    const memory = readProcMemory(pid);
    if (!memory) return;
    samples++;
    sampledRss = Math.max(sampledRss, memory.rss);
    hwm = memory.hwm;
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    mark() {
      resetWorked = resetPeak(pid);
      sampledRss = 0;
      samples = 0;
      sample();
    },
    peak() {
      sample();
      return { sampledRss, hwm, hwmIsWindowPeak: resetWorked, samples };
    },
    stop: () => clearInterval(timer),
  };
}
