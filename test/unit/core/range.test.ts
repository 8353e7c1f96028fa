import { describe, expect, it } from 'vitest';
import { RangeNotSatisfiableError } from '../../../lib/core/errors.ts';
import {
  formatContentRange,
  formatRangeHeader,
  parseRangeHeader,
  resolveRange,
} from '../../../lib/core/range.ts';

describe('parseRangeHeader', () => {
  it('parses a-b, a- and -n', () => {
    expect(parseRangeHeader('bytes=0-99')).toEqual({ start: 0, end: 99 });
    expect(parseRangeHeader('bytes=100-')).toEqual({ start: 100 });
    expect(parseRangeHeader('bytes=-10')).toEqual({ suffix: 10 });
    expect(parseRangeHeader(' bytes = 5 - 6 ')).toEqual({ start: 5, end: 6 });
  });

  it.each([
    'bytes=0-1,5-6',
    'bytes=5-1',
    'bytes=-',
    'bytes=a-b',
    'items=0-1',
    '0-1',
    'bytes=99999999999999999999-',
    '',
  ])('rejects %j with a 416 error', (header) => {
    expect(() => parseRangeHeader(header)).toThrow(RangeNotSatisfiableError);
    try {
      parseRangeHeader(header);
    } catch (error) {
      expect((error as RangeNotSatisfiableError).statusCode).toBe(416);
    }
  });
});

describe('resolveRange', () => {
  it('clamps the end and resolves suffixes', () => {
    expect(resolveRange({ start: 0, end: 99 }, 50)).toEqual({ start: 0, end: 49, length: 50 });
    expect(resolveRange({ start: 10 }, 50)).toEqual({ start: 10, end: 49, length: 40 });
    expect(resolveRange({ suffix: 10 }, 50)).toEqual({ start: 40, end: 49, length: 10 });
    expect(resolveRange({ suffix: 80 }, 50)).toEqual({ start: 0, end: 49, length: 50 });
  });

  it('detects unsatisfiable ranges and keeps the size', () => {
    for (const [spec, size] of [
      [{ start: 50 }, 50],
      [{ start: 0 }, 0],
      [{ suffix: 0 }, 50],
      [{ suffix: 5 }, 0],
    ] as const) {
      expect(() => resolveRange(spec, size)).toThrow(RangeNotSatisfiableError);
      try {
        resolveRange(spec, size);
      } catch (error) {
        expect((error as RangeNotSatisfiableError).size).toBe(size);
      }
    }
  });

  it('formats Content-Range and Range headers', () => {
    expect(formatContentRange({ start: 40, end: 49, length: 10 }, 50)).toBe('bytes 40-49/50');
    expect(formatRangeHeader({ suffix: 3 })).toBe('bytes=-3');
    expect(formatRangeHeader({ start: 3 })).toBe('bytes=3-');
    expect(formatRangeHeader({ start: 3, end: 4 })).toBe('bytes=3-4');
  });
});
