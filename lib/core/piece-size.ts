const MiB = 1024 * 1024;

/** Upstream defaults (Dragonfly `internal/util`): 4 MiB pieces up to 200 MiB, at most 15 MiB. */
export const DEFAULT_PIECE_SIZE = 4 * MiB;
export const MAX_PIECE_SIZE = 15 * MiB;
const PIECE_SIZE_GROWTH_THRESHOLD = 200 * MiB;

/**
 * The piece size for an object of `contentLength` bytes: 4 MiB up to 200 MiB; above,
 * `(floor(len / 100 MiB) - 2) MiB + 4 MiB`, capped at 15 MiB. An unknown length (< 0) gets 4 MiB.
 */
export function computePieceSize(contentLength: number): number {
  if (contentLength <= PIECE_SIZE_GROWTH_THRESHOLD) return DEFAULT_PIECE_SIZE;
  const grown = (Math.floor(contentLength / (100 * MiB)) - 2) * MiB + DEFAULT_PIECE_SIZE;
  return Math.min(grown, MAX_PIECE_SIZE);
}

/** Number of pieces of `pieceSize` needed for `contentLength` bytes (0 for an empty object). */
export function computePieceCount(contentLength: number, pieceSize: number): number {
  return Math.ceil(contentLength / pieceSize);
}

/** Byte bounds (inclusive end) of piece `index`. */
export function pieceRange(
  index: number,
  pieceSize: number,
  contentLength: number,
): { start: number; end: number; length: number } {
  const start = index * pieceSize;
  const end = Math.min(start + pieceSize, contentLength) - 1;
  return { start, end, length: end - start + 1 };
}
