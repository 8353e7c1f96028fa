import { createRequire } from 'node:module';

/** The parts of an autocannon result the benches report (latencies in ms, integer resolution). */
export interface LoadResult {
  readonly requests: { readonly average: number; readonly total: number };
  readonly latency: {
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly average: number;
    readonly max: number;
  };
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly duration: number;
}

interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  /** Seconds. */
  readonly duration: number;
  readonly method?: string;
}

// autocannon ships no types; it is CommonJS.
const autocannon = createRequire(import.meta.url)('autocannon') as (
  options: LoadOptions & { readonly pipelining?: number },
) => Promise<LoadResult>;

/** Runs autocannon (in this process) against one URL; fails if any request failed. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({ ...options, pipelining: 1 });
  if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) {
    throw new Error(
      `load on ${options.url}: ${result.errors} errors, ${result.timeouts} timeouts, ` +
        `${result.non2xx} non-2xx of ${result.requests.total}`,
    );
  }
  return result;
}
