/** Byte sizes and durations as config files write them. */

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(?:([kmgtpe])(i)?b?|b)?$/i;
const SIZE_POWERS: Readonly<Record<string, number>> = { k: 1, m: 2, g: 3, t: 4, p: 5, e: 6 };

/**
 * Parses `10GiB`, `10GB`, `10G`, `512Mi`, `1.5 TiB`, `4096`, `4096B`. As in Dragonfly's
 * `unit.Bytes`, every multiple is binary (`GB` = `GiB` = 2^30): config files written for
 * upstream keep their meaning. Returns undefined for anything else or a non-safe integer.
 */
export function parseByteSize(text: string): number | undefined {
  const match = SIZE_RE.exec(text.trim());
  if (!match) return undefined;
  const [, digits = '', unit] = match;
  const power = unit ? (SIZE_POWERS[unit.toLowerCase()] ?? 0) : 0;
  const bytes = Math.floor(Number(digits) * 1024 ** power);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const DURATION_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses Go-style single-unit durations: `500ms`, `30s`, `1.5m`, `2h`. Milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_RE.exec(text.trim());
  if (!match) return undefined;
  const [, digits = '', unit = ''] = match;
  const ms = Math.round(Number(digits) * (DURATION_MS[unit] ?? Number.NaN));
  return Number.isSafeInteger(ms) ? ms : undefined;
}
