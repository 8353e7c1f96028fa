import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

const BLOCK = 1024 * 1024;
/** Every STAMP_EVERY bytes a block carries its index, so lost, repeated or swapped blocks show. */
const STAMP_EVERY = 64 * 1024;

export interface GeneratedObject {
  /** `size` bytes, produced as they are read: never held whole in memory. */
  readonly stream: Readable;
  /** sha256 hex of every byte the stream yielded; resolves once it has ended. */
  readonly sha256: Promise<string>;
}

/**
 * A 1 MiB random block repeated, each copy stamped with its index: cheap enough not to be the
 * bottleneck, incompressible, and no two blocks alike. The bytes are hashed as they are produced.
 */
export function generatedObject(size: number): GeneratedObject {
  const base = randomBytes(BLOCK);
  const hash = createHash('sha256');
  let sent = 0;
  let index = 0n;
  let resolveDigest!: (hex: string) => void;
  let rejectDigest!: (error: Error) => void;
  const sha256 = new Promise<string>((resolve, reject) => {
    resolveDigest = resolve;
    rejectDigest = reject;
  });
  sha256.catch(() => {}); // a destroyed stream rejects it; callers may never await it
  const stream = new Readable({
    highWaterMark: BLOCK,
    read() {
      if (sent >= size) {
        resolveDigest(hash.digest('hex'));
        this.push(null);
        return;
      }
      const n = Math.min(BLOCK, size - sent);
      const block = Buffer.allocUnsafe(n);
      base.copy(block, 0, 0, n);
      for (let at = 0; at + 8 <= n; at += STAMP_EVERY) block.writeBigUInt64LE(index, at);
      index++;
      sent += n;
      hash.update(block);
      this.push(block);
    },
    destroy(error, callback) {
      if (sent < size) rejectDigest(error ?? new Error('generated stream destroyed early'));
      callback(error);
    },
  });
  return { stream, sha256 };
}
