import { RangeNotSatisfiableError } from './errors.ts';

/** One byte range as a client asks for it (RFC 9110 §14.1.1). `end` is inclusive. */
export type RangeSpec =
  | { readonly start: number; readonly end?: number }
  | { readonly suffix: number };

/** A range resolved against an object size: `start..end` inclusive, `length` bytes. */
export interface ResolvedRange {
  readonly start: number;
  readonly end: number;
  readonly length: number;
}

const RANGE_RE = /^bytes=(\d*)-(\d*)$/;

/**
 * Parses a `Range` header holding exactly one range: `bytes=a-b`, `bytes=a-` or `bytes=-n`.
 * Multiple ranges and malformed values throw RangeNotSatisfiableError (HTTP 416, as upstream).
 */
export function parseRangeHeader(header: string): RangeSpec {
  const value = header.trim().replace(/\s+/g, '');
  if (value.includes(',')) throw new RangeNotSatisfiableError('multiple ranges are not supported');
  const match = RANGE_RE.exec(value);
  if (!match) throw new RangeNotSatisfiableError(`invalid range ${JSON.stringify(header)}`);
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') {
    throw new RangeNotSatisfiableError(`invalid range ${JSON.stringify(header)}`);
  }
  if (first === '') return { suffix: toSafeInteger(last, header) };
  const start = toSafeInteger(first, header);
  if (last === '') return { start };
  const end = toSafeInteger(last, header);
  if (end < start) throw new RangeNotSatisfiableError(`invalid range ${JSON.stringify(header)}`);
  return { start, end };
}

/**
 * Resolves a range against the object size, clamping an end past the last byte.
 * Throws RangeNotSatisfiableError (carrying the size) when no byte of the object is selected.
 */
export function resolveRange(spec: RangeSpec, size: number): ResolvedRange {
  if ('suffix' in spec) {
    if (spec.suffix === 0 || size === 0) {
      throw new RangeNotSatisfiableError('range not satisfiable', size);
    }
    const length = Math.min(spec.suffix, size);
    return { start: size - length, end: size - 1, length };
  }
  if (spec.start >= size) throw new RangeNotSatisfiableError('range not satisfiable', size);
  const end = Math.min(spec.end ?? size - 1, size - 1);
  return { start: spec.start, end, length: end - spec.start + 1 };
}

/** `bytes a-b/size`, the value of `Content-Range` in a 206 answer. */
export function formatContentRange(range: ResolvedRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}

/** `bytes *\/size`, the value of `Content-Range` in a 416 answer. */
export function formatUnsatisfiedContentRange(size: number): string {
  return `bytes */${size}`;
}

/** The `Range` header value for a spec. */
export function formatRangeHeader(spec: RangeSpec): string {
  if ('suffix' in spec) return `bytes=-${spec.suffix}`;
  return `bytes=${spec.start}-${spec.end ?? ''}`;
}

function toSafeInteger(digits: string, header: string): number {
  const n = Number(digits);
  if (!Number.isSafeInteger(n)) {
    throw new RangeNotSatisfiableError(`invalid range ${JSON.stringify(header)}`);
  }
  return n;
}
