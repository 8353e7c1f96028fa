import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { DfstoreNotFoundError } from '../../../lib/client/errors.ts';
import { createHttpCaller, type HttpCaller } from '../../../lib/function/http-caller.ts';
import {
  createSeedPeerObjectApi,
  createSeedPeerP2p,
} from '../../../lib/function/seed-peer-client.ts';
import { isUnreachable } from '../../../lib/function/seed-peer-service.ts';
import { P2pHttpError } from '../../../lib/peer/p2p-errors.ts';

let server: Server | undefined;
let http: HttpCaller | undefined;
afterEach(async () => {
  http?.close();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const timeouts = { headersTimeoutMs: 2_000, bodyTimeoutMs: 2_000 };

describe('the object API function’s seed-peer client (node:http)', () => {
  it('streams a PUT form and a GET body, and maps a 404 to DfstoreNotFoundError', async () => {
    const received: string[] = [];
    const origin = await listen((req, res) => {
      if (req.method === 'PUT') {
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => received.push(chunk));
        req.on('end', () => res.end('{}'));
        return;
      }
      if (req.url?.endsWith('/missing')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"errors":"no such key","code":"ERR_OBJECT_NOT_FOUND"}');
        return;
      }
      res.writeHead(200, { 'content-length': '5', etag: '"e"' });
      res.end('hello');
    });
    http = createHttpCaller({ connectTimeoutMs: 1_000, keepAliveTimeoutMs: 1_000 });
    const api = createSeedPeerObjectApi(http, origin, timeouts);
    await api.putObject('b', 'dir/k', Readable.from([Buffer.from('payload')]), { mode: 1 });
    expect(received.join('')).toContain('payload');
    const got = await api.getObject('b', 'k');
    expect(got.metadata).toMatchObject({ key: 'k', contentLength: 5, etag: '"e"' });
    expect(Buffer.concat(await got.body.toArray()).toString()).toBe('hello');
    const error = await api.headObject('b', 'missing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DfstoreNotFoundError);
    await expect(api.getObject('b', 'missing')).rejects.toMatchObject({
      status: 404,
      code: 'ERR_OBJECT_NOT_FOUND',
      serverMessage: 'no such key',
    });
  });

  it('fails a call whose headers do not come in time as unreachable', async () => {
    const origin = await listen(() => {
      // never answers
    });
    http = createHttpCaller({ connectTimeoutMs: 1_000, keepAliveTimeoutMs: 1_000 });
    const api = createSeedPeerObjectApi(http, origin, { ...timeouts, headersTimeoutMs: 100 });
    const error = await api.headObject('b', 'k').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_HEADERS_TIMEOUT' });
    expect(isUnreachable(error)).toBe(true);
  });

  it('speaks P2P: currentVersion is undefined on 404, other errors are P2pHttpError', async () => {
    const origin = await listen((req, res) => {
      res.writeHead(req.url?.startsWith('/p2p/v1/keys/current') ? 404 : 500);
      res.end('{"errors":"boom","code":"ERR_X"}');
    });
    http = createHttpCaller({ connectTimeoutMs: 1_000, keepAliveTimeoutMs: 1_000 });
    const p2p = createSeedPeerP2p(http, timeouts);
    expect(await p2p.currentVersion(origin, 'b', 'k')).toBeUndefined();
    const error = await p2p.flushKey(origin, 'b', 'k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(P2pHttpError);
    expect(error).toMatchObject({ status: 500, code: 'ERR_X' });
  });
});
