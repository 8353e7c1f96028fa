/** Exponential backoff bounds: attempt n waits up to `min(capMs, baseMs * 2^(n-1))`. */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 5 * 60_000 };

/** The upper bound of the delay after failed attempt `attempt` (1-based). */
export function backoffCeiling(attempt: number, policy: BackoffPolicy): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 52);
  return Math.min(policy.capMs, policy.baseMs * 2 ** exponent);
}

/**
 * "Full jitter" (AWS Architecture Blog, Exponential Backoff And Jitter): a uniform delay in
 * `[0, ceiling)`, which spreads retries of many failed entries instead of synchronizing them.
 * `random` returns values in [0, 1) like Math.random.
 */
export function fullJitterDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCeiling(attempt, policy));
}
