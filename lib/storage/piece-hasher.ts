import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

/** Splits a byte stream into pieces of `pieceSize` and hashes each with sha256. */
export class PieceHasher {
  readonly #pieceSize: number;
  readonly #digests: string[] = [];
  #hash: Hash = createHash('sha256');
  #inPiece = 0;
  #finished = false;

  constructor(pieceSize: number) {
    this.#pieceSize = pieceSize;
  }

  update(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.#pieceSize - this.#inPiece, chunk.length - offset);
      this.#hash.update(chunk.subarray(offset, offset + take));
      this.#inPiece += take;
      offset += take;
      if (this.#inPiece === this.#pieceSize) this.#closePiece();
    }
  }

  /** The sha256 hex of every piece; the last one may be short. Call once, after the last update. */
  digests(): string[] {
    if (!this.#finished) {
      if (this.#inPiece > 0) this.#closePiece();
      this.#finished = true;
    }
    return this.#digests;
  }

  #closePiece(): void {
    this.#digests.push(this.#hash.digest('hex'));
    this.#hash = createHash('sha256');
    this.#inPiece = 0;
  }
}

/** Computes the md5 of the whole object and the sha256 of each piece in one pass. */
export class ObjectHasher {
  readonly pieces: PieceHasher;
  readonly #md5 = createHash('md5');
  #length = 0;

  constructor(pieceSize: number) {
    this.pieces = new PieceHasher(pieceSize);
  }

  get length(): number {
    return this.#length;
  }

  update(chunk: Uint8Array): void {
    this.#md5.update(chunk);
    this.pieces.update(chunk);
    this.#length += chunk.length;
  }

  /** Lower-case md5 hex of everything seen. Call once. */
  md5Hex(): string {
    return this.#md5.digest('hex');
  }
}

const READ_CHUNK = 1024 * 1024;

/**
 * Hashes `length` bytes of an open file from offset 0, reading sequentially with one buffer:
 * per-piece sha256 hex when `pieceSize` is given, the md5 hex of the whole range when `md5`.
 */
export async function hashFile(
  handle: FileHandle,
  length: number,
  options: { pieceSize?: number; md5?: boolean },
): Promise<{ pieceDigests?: string[]; md5Hex?: string }> {
  const pieces = options.pieceSize ? new PieceHasher(options.pieceSize) : undefined;
  const md5 = options.md5 ? createHash('md5') : undefined;
  const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(length, 1)));
  let position = 0;
  while (position < length) {
    const want = Math.min(buffer.length, length - position);
    const { bytesRead } = await handle.read(buffer, 0, want, position);
    if (bytesRead === 0) throw new Error(`file ended at ${position} of ${length} bytes`);
    const chunk = buffer.subarray(0, bytesRead);
    pieces?.update(chunk);
    md5?.update(chunk);
    position += bytesRead;
  }
  return { pieceDigests: pieces?.digests(), md5Hex: md5?.digest('hex') };
}
