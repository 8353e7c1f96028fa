import { finished, type Readable } from 'node:stream';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { BufferedBody } from '../storage/buffered-body.ts';

/**
 * A Response whose body streams from a Node Readable. The stream is destroyed if the client goes
 * away, so file descriptors and upstream connections are released. A BufferedBody (a small range
 * already in memory) is sent as bytes: with its headers in one write.
 */
export function streamResponse(c: Context, body: Readable, status: ContentfulStatusCode): Response {
  if (c.req.method === 'HEAD') {
    body.destroy();
    return c.body(null, status);
  }
  if (body instanceof BufferedBody) {
    const { bytes } = body;
    const view = new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
    return c.body(view, status);
  }
  c.req.raw.signal.addEventListener('abort', () => body.destroy(), { once: true });
  return c.body(webStream(body), status);
}

/**
 * The Readable as a byte ReadableStream, without the copy of every chunk that Readable.toWeb
 * makes (Node 20): chunks are handed on as views of the Buffers the Readable pushed, which their
 * producer no longer touches (the stream contract). At most one chunk waits beyond the consumer.
 */
function webStream(body: Readable): ReadableStream<Uint8Array> {
  let cancelled = () => {};
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        // Once closed, errored or cancelled, the controller takes nothing more.
        let done = false;
        const finish = (error?: unknown) => {
          if (done) return;
          done = true;
          if (error === undefined) controller.close();
          else controller.error(error);
        };
        body.on('data', (chunk: Buffer | string) => {
          if (done) return;
          const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          controller.enqueue(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) body.pause();
        });
        // Like Readable.toWeb: the end is told once the body has also closed (its file
        // descriptor released); a body destroyed before its end is an error.
        finished(body, (error) => finish(error ?? undefined));
        cancelled = () => {
          done = true;
        };
        body.pause();
      },
      pull() {
        body.resume();
      },
      cancel() {
        cancelled();
        body.destroy();
      },
    },
    { highWaterMark: 1 },
  );
}
