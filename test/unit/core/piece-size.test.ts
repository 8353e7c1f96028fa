import { describe, expect, it } from 'vitest';
import {
  computePieceCount,
  computePieceSize,
  DEFAULT_PIECE_SIZE,
  pieceRange,
} from '../../../lib/core/piece-size.ts';

const MiB = 1024 * 1024;

describe('computePieceSize (golden vectors of Dragonfly internal/util)', () => {
  it.each([
    [100 * MiB, 4 * MiB],
    [200 * MiB, 4 * MiB],
    [205 * MiB, 4 * MiB],
    [310 * MiB, 5 * MiB],
    [3100 * MiB, 15 * MiB],
    [552562021, 7 * MiB],
  ])('%i bytes → %i', (length, size) => {
    expect(computePieceSize(length)).toBe(size);
  });

  it('uses the default for unknown and empty lengths', () => {
    expect(computePieceSize(-1)).toBe(DEFAULT_PIECE_SIZE);
    expect(computePieceSize(0)).toBe(DEFAULT_PIECE_SIZE);
  });
});

describe('computePieceCount and pieceRange', () => {
  it('rounds up and bounds the last piece', () => {
    expect(computePieceCount(0, 4 * MiB)).toBe(0);
    expect(computePieceCount(4 * MiB, 4 * MiB)).toBe(1);
    expect(computePieceCount(4 * MiB + 1, 4 * MiB)).toBe(2);
    expect(pieceRange(1, 4 * MiB, 4 * MiB + 10)).toEqual({
      start: 4 * MiB,
      end: 4 * MiB + 9,
      length: 10,
    });
    expect(pieceRange(0, 4 * MiB, 10 * MiB)).toEqual({
      start: 0,
      end: 4 * MiB - 1,
      length: 4 * MiB,
    });
  });
});
