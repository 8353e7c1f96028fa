import { describe, expect, it } from 'vitest';
import { parseByteSize, parseDuration } from '../../../lib/config/units.ts';

const GiB = 1024 ** 3;

describe('capacity strings and durations', () => {
  it.each([
    ['10GiB', 10 * GiB],
    ['10GB', 10 * GiB],
    ['10G', 10 * GiB],
    ['10gi', 10 * GiB],
    ['1.5 TiB', 1.5 * 1024 * GiB],
    ['512Mi', 512 * 1024 ** 2],
    ['64KB', 64 * 1024],
    ['4096', 4096],
    ['4096B', 4096],
  ])('%s = %d bytes', (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });

  it.each(['', 'GiB', '-1GiB', '10 XB', '1e3', '10GiBs'])('rejects %j', (text) => {
    expect(parseByteSize(text)).toBeUndefined();
  });

  it('parses durations', () => {
    expect([
      parseDuration('500ms'),
      parseDuration('30s'),
      parseDuration('1.5m'),
      parseDuration('2h'),
    ]).toEqual([500, 30_000, 90_000, 7_200_000]);
    expect(parseDuration('30')).toBeUndefined();
  });
});
