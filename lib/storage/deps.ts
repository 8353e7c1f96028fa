/**
 * Collaborators the storage modules take through `deps` (STYLE.md habit 9), so tests can run
 * them under a fake clock and fake timers, and the daemon can pass its pino logger.
 */

/** The subset of pino's logger the storage layer uses (a pino logger satisfies it). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Wall-clock milliseconds since the epoch (`Date.now` by default). */
export interface Clock {
  now(): number;
}

/** Timer functions; the defaults look `globalThis` up at call time so vitest fake timers apply. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

export const systemClock: Clock = { now: () => Date.now() };

export const systemTimers: Timers = {
  setTimeout(callback, ms) {
    const handle = globalThis.setTimeout(callback, ms);
    // Retry timers must not keep a process alive on their own; close() clears them anyway.
    (handle as { unref?: () => void }).unref?.();
    return handle;
  },
  clearTimeout(handle) {
    globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>);
  },
};
