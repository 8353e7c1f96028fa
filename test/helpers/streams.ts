import { createHash, type Hash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const CHUNK = 64 * 1024;

/**
 * A deterministic pseudo-random stream of `size` bytes, generated chunk by chunk (never held
 * whole in memory). The same seed always yields the same bytes.
 */
export function patternStream(size: number, seed = 1): Readable {
  let offset = 0;
  let state = seed >>> 0 || 1;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (offset >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(CHUNK, size - offset);
      const chunk = Buffer.allocUnsafe(n);
      for (let i = 0; i + 4 <= n; i += 4) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        chunk.writeUInt32LE(state >>> 0, i);
      }
      for (let i = n - (n % 4); i < n; i++) chunk[i] = i & 0xff;
      offset += n;
      this.push(chunk);
    },
  });
}

/** sha256 hex of a stream, consuming it without buffering. */
export async function sha256OfStream(
  stream: Readable | AsyncIterable<Uint8Array>,
): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(stream, hashSink(hash));
  return hash.digest('hex');
}

/** sha256 hex of a byte range [start, end] of the pattern stream (by generating and skipping). */
export async function sha256OfPattern(
  size: number,
  seed = 1,
  start = 0,
  end = size - 1,
): Promise<string> {
  const hash = createHash('sha256');
  let offset = 0;
  for await (const chunk of patternStream(size, seed) as AsyncIterable<Buffer>) {
    const from = Math.max(start - offset, 0);
    const to = Math.min(end + 1 - offset, chunk.length);
    if (to > from) hash.update(chunk.subarray(from, to));
    offset += chunk.length;
    if (offset > end) break;
  }
  return hash.digest('hex');
}

/** Reads a (small) stream into a Buffer. For test assertions on small objects only. */
export async function readAll(stream: Readable | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

function hashSink(hash: Hash): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback();
    },
  });
}
