import { PassThrough, Readable } from 'node:stream';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { streamResponse } from '../../../lib/api/stream-response.ts';
import { BufferedBody } from '../../../lib/storage/buffered-body.ts';

function appServing(body: () => Readable): Hono {
  const app = new Hono();
  app.get('/', (c) => {
    c.header('Content-Type', 'application/octet-stream');
    return streamResponse(c, body(), 200);
  });
  return app;
}

describe('streamResponse', () => {
  it('streams a Readable in order, ending once the Readable has closed', async () => {
    let closed = false;
    const chunks = [Buffer.from('ab'), Buffer.from('cd'), Buffer.from('ef')];
    const app = appServing(() => {
      const body = Readable.from(chunks);
      body.once('close', () => {
        closed = true;
      });
      return body;
    });
    const res = await app.request('/');
    expect(await res.text()).toBe('abcdef');
    expect(closed).toBe(true);
  });

  it('sends a BufferedBody as bytes', async () => {
    const res = await appServing(() => new BufferedBody(Buffer.from('small'))).request('/');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('small');
  });

  it('errors the body when the Readable fails or is destroyed before its end', async () => {
    const failing = new PassThrough();
    const res = await appServing(() => failing).request('/');
    failing.write('part');
    setTimeout(() => failing.destroy(new Error('disk gone')), 10);
    await expect(res.text()).rejects.toThrow();

    const cut = new PassThrough();
    const res2 = await appServing(() => cut).request('/');
    cut.write('part');
    setTimeout(() => cut.destroy(), 10);
    await expect(res2.text()).rejects.toThrow();
  });

  it('destroys the Readable when the reader cancels', async () => {
    const body = new PassThrough();
    const res = await appServing(() => body).request('/');
    body.write('x');
    await res.body?.cancel();
    expect(body.destroyed).toBe(true);
  });
});
