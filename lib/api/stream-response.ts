import { Readable } from 'node:stream';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * A Response whose body streams from a Node Readable. The stream is destroyed if the client goes
 * away, so file descriptors and upstream connections are released.
 */
export function streamResponse(c: Context, body: Readable, status: ContentfulStatusCode): Response {
  if (c.req.method === 'HEAD') {
    body.destroy();
    return c.body(null, status);
  }
  c.req.raw.signal.addEventListener('abort', () => body.destroy(), { once: true });
  return c.body(Readable.toWeb(body) as ReadableStream<Uint8Array>, status);
}
