/** A fixed-size set of piece indexes, persisted as base64 (bit i of byte i>>3, LSB first). */
export class PieceBitmap {
  readonly #bits: Uint8Array;
  #count = 0;

  constructor(readonly size: number) {
    this.#bits = new Uint8Array(Math.ceil(size / 8));
  }

  /** Decodes `toBase64()` output; throws on a length mismatch or bits past `size`. */
  static fromBase64(size: number, encoded: string): PieceBitmap {
    const bitmap = new PieceBitmap(size);
    const bytes = Buffer.from(encoded, 'base64');
    if (bytes.length !== bitmap.#bits.length) throw new Error('piece bitmap has the wrong length');
    for (let i = 0; i < size; i++) {
      if ((bytes[i >> 3] ?? 0) & (1 << (i & 7))) bitmap.add(i);
    }
    if (bitmap.toBase64() !== Buffer.from(bytes).toString('base64')) {
      throw new Error('piece bitmap has bits past its size');
    }
    return bitmap;
  }

  get count(): number {
    return this.#count;
  }

  get full(): boolean {
    return this.#count === this.size;
  }

  has(index: number): boolean {
    return (
      index >= 0 && index < this.size && ((this.#bits[index >> 3] ?? 0) & (1 << (index & 7))) !== 0
    );
  }

  /** Adds `index`; returns false when it was already present. */
  add(index: number): boolean {
    if (index < 0 || index >= this.size || !Number.isInteger(index)) {
      throw new RangeError(`piece index ${index} out of range 0..${this.size - 1}`);
    }
    if (this.has(index)) return false;
    this.#bits[index >> 3] = (this.#bits[index >> 3] ?? 0) | (1 << (index & 7));
    this.#count++;
    return true;
  }

  indexes(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.size; i++) if (this.has(i)) out.push(i);
    return out;
  }

  clone(): PieceBitmap {
    const copy = new PieceBitmap(this.size);
    for (const i of this.indexes()) copy.add(i);
    return copy;
  }

  toBase64(): string {
    return Buffer.from(this.#bits).toString('base64');
  }
}
