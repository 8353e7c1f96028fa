import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { checkRequest, fuzzPool, requestArbitrary, type Violation } from './api-fuzz.ts';

export interface ApiFuzzOptions {
  /** The daemon's object API, e.g. `http://127.0.0.1:65004`. */
  readonly origin: string;
  readonly runs: number;
  readonly seed: number;
  /** Checked every this many requests and at the end: `/healthy` must answer 200. */
  readonly healthEvery?: number;
  /** Whether the daemon process is still running (a crash is a violation). */
  readonly alive?: () => boolean;
}

export interface ApiFuzzResult {
  readonly runs: number;
  readonly seed: number;
  readonly violations: readonly Violation[];
  readonly durationMs: number;
  readonly requestsPerSecond: number;
}

/**
 * Sends `runs` random requests (fast-check, `seed`) one at a time and collects every broken
 * invariant instead of stopping at the first: a fixed seed replays the same requests.
 */
export async function runApiFuzz(options: ApiFuzzOptions): Promise<ApiFuzzResult> {
  const pool = fuzzPool(options.origin);
  const violations: Violation[] = [];
  const healthEvery = options.healthEvery ?? 100;
  let sent = 0;
  const health = async (after: string) => {
    if (options.alive && !options.alive()) {
      violations.push({ request: after, why: 'the daemon process exited' });
      return false;
    }
    try {
      const response = await fetch(`${options.origin}/healthy`);
      await response.arrayBuffer();
      if (response.status === 200) return true;
      violations.push({ request: after, why: `/healthy answered ${response.status}` });
    } catch (error) {
      violations.push({ request: after, why: `/healthy failed: ${(error as Error).message}` });
    }
    return false;
  };
  const started = Date.now();
  try {
    await fc.check(
      fc.asyncProperty(requestArbitrary, async (request) => {
        const violation = await checkRequest(pool, request);
        if (violation) violations.push(violation);
        sent++;
        if (sent % healthEvery === 0 && !(await health(`after request ${sent}`))) {
          throw new Error('daemon down');
        }
        return true;
      }),
      { seed: options.seed, numRuns: options.runs, endOnFailure: true },
    );
    await health('at the end');
  } finally {
    await pool.close();
  }
  const durationMs = Date.now() - started;
  return {
    runs: sent,
    seed: options.seed,
    violations,
    durationMs,
    requestsPerSecond: Math.round((sent / durationMs) * 1000),
  };
}

/** Every file and directory below `dir`, relative to it, sorted (for before/after diffs). */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (current: string) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(current, entry.name);
      out.push(relative(dir, path) + (entry.isDirectory() ? '/' : ''));
      if (entry.isDirectory()) await visit(path);
    }
  };
  await visit(dir);
  return out.sort();
}

/** Paths in `after` that are new and not under one of `allowed` (relative dir prefixes). */
export function escapedPaths(
  before: readonly string[],
  after: readonly string[],
  allowed: readonly string[],
): string[] {
  const old = new Set(before);
  return after.filter(
    (path) => !old.has(path) && !allowed.some((prefix) => path.startsWith(prefix)),
  );
}
