import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { drainBody } from '../../../lib/peer/peer-object-service.ts';

// After a full disk refused a PUT, the rest of its body is read and dropped (bounded), so the
// client reads the 507 instead of a connection reset.

describe('drainBody', () => {
  it('reads the rest of the body to its end', async () => {
    const body = Readable.from([Buffer.alloc(1000), Buffer.alloc(2000)]);
    await drainBody(body);
    expect(body.readableEnded).toBe(true);
  });

  it('destroys the body past maxBytes', async () => {
    const body = Readable.from([Buffer.alloc(1000), Buffer.alloc(2000), Buffer.alloc(3000)]);
    await drainBody(body, 2500);
    expect(body.destroyed).toBe(true);
    expect(body.readableEnded).toBe(false);
  });

  it('destroys a body that stops sending after maxMs', async () => {
    const body = new PassThrough();
    body.write(Buffer.alloc(10));
    await drainBody(body, 1024, 50);
    expect(body.destroyed).toBe(true);
  });
});
