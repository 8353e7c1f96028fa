import { Readable } from 'node:stream';

/**
 * A small byte range already read into memory (at most SMALL_READ_BYTES, the size of one read
 * chunk), as a Readable like every other body. HTTP hosts that know it (lib/api/stream-response)
 * send `bytes` with the headers in one write, skipping the stream machinery; everyone else reads
 * it as a stream of one chunk.
 */
export class BufferedBody extends Readable {
  readonly bytes: Buffer;

  constructor(bytes: Buffer) {
    super({ highWaterMark: Math.max(1, bytes.length) });
    this.bytes = bytes;
  }

  override _read(): void {
    if (this.bytes.length > 0) this.push(this.bytes);
    this.push(null);
  }
}
