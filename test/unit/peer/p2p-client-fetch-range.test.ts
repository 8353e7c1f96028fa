import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createP2pClient, type P2pClient } from '../../../lib/peer/p2p-client.ts';
import { P2pHttpError } from '../../../lib/peer/p2p-errors.ts';

// P2pClient.fetchRange against a real HTTP server on 127.0.0.1 that answers piece requests the
// way a piece server does (206 with the range), or misbehaves on purpose (by task ID).
const TASK = 'a'.repeat(64);
const SHORT = 'b'.repeat(64);
const LONG = 'c'.repeat(64);
const object = randomBytes(256 * 1024 + 17);

let server: Server;
let pieces: string;
let client: P2pClient;

beforeAll(async () => {
  server = createServer((req, res) => {
    const match = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
    const start = Number(match?.[1]);
    const end = Number(match?.[2]);
    const body = object.subarray(start, end + 1);
    res.statusCode = 206;
    // Written in several chunks so that the client assembles them.
    const send = req.url?.includes(SHORT)
      ? body.subarray(0, body.length - 1)
      : req.url?.includes(LONG)
        ? Buffer.concat([body, Buffer.from('extra')])
        : body;
    for (let at = 0; at < send.length; at += 10_000) res.write(send.subarray(at, at + 10_000));
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  pieces = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = createP2pClient();
});

afterAll(async () => {
  await client.close();
  await new Promise((resolve) => server.close(resolve));
});

describe('P2pClient.fetchRange', () => {
  it('assembles the body into a fresh buffer of exactly the range', async () => {
    const data = await client.fetchRange(pieces, TASK, { start: 1000, end: 200_999 });
    expect(data.length).toBe(200_000);
    expect(data.equals(object.subarray(1000, 201_000))).toBe(true);
  });

  it('fills the caller’s buffer and returns a view of it', async () => {
    const into = Buffer.alloc(300 * 1024, 0xff);
    const data = await client.fetchRange(pieces, TASK, { start: 17, end: 100_016 }, { into });
    expect(data.buffer).toBe(into.buffer);
    expect(data.byteOffset).toBe(into.byteOffset);
    expect(data.equals(object.subarray(17, 100_017))).toBe(true);
    // A buffer too small for the range is not used.
    const small = Buffer.alloc(10);
    const other = await client.fetchRange(pieces, TASK, { start: 0, end: 99 }, { into: small });
    expect(other.buffer).not.toBe(small.buffer);
    expect(other.equals(object.subarray(0, 100))).toBe(true);
  });

  it('rejects a short body and a body longer than the range', async () => {
    const range = { start: 0, end: 99_999 };
    await expect(client.fetchRange(pieces, SHORT, range)).rejects.toMatchObject({
      name: 'P2pHttpError',
      code: 'ERR_SHORT_BODY',
    });
    const into = Buffer.alloc(100_000);
    const long = client.fetchRange(pieces, LONG, range, { into });
    await expect(long).rejects.toBeInstanceOf(P2pHttpError);
    await expect(long).rejects.toMatchObject({ code: 'ERR_LONG_BODY' });
    // The connection pool still works after the cut-short body.
    const data = await client.fetchRange(pieces, TASK, range);
    expect(data.equals(object.subarray(0, 100_000))).toBe(true);
  });
});
