import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goMultipart, goPutParts } from '../helpers/go-dfstore-wire.ts';
import { type PeerDaemon, startPeerDaemon } from '../helpers/peer-daemon.ts';
import { type TempFsBackend, tempFsBackend, walk } from '../helpers/temp-fs-backend.ts';

// Huge uploads (SECURITY.md "denial of service"): `limits.maxObjectSize` bounds a PUT's file
// part. Over it: 413 `{"errors","code":"ERR_PAYLOAD_TOO_LARGE"}`, before reading the body when
// Content-Length says so, and nothing is left in the cache or the backend either way.
const LIMIT = 1024 * 1024;
const bucket = 'limit-bucket';

let daemon: PeerDaemon;
let fs: TempFsBackend;
beforeAll(async () => {
  fs = await tempFsBackend();
  daemon = await startPeerDaemon({
    name: 'security-limit',
    backend: { name: 'fs', root: fs.root },
    extraConfig: { logLevel: 'info', limits: { maxObjectSize: LIMIT } },
  });
  expect((await fetch(`${daemon.api}/buckets/${bucket}`, { method: 'POST' })).status).toBe(200);
});
afterAll(async () => {
  await daemon?.dispose();
  await fs?.remove();
});

const url = (key: string) => `${daemon.api}/buckets/${bucket}/objects/${key}`;

/** Files of the data dir outside the journal and index (tasks, staging). */
async function cachedFiles(): Promise<string[]> {
  const top = await readdir(daemon.dataDir);
  const dirs = top.filter((name) => name === 'tasks' || name === 'staging');
  const files = await Promise.all(dirs.map((dir) => walk(join(daemon.dataDir, dir))));
  return files.flat().filter((path) => !path.endsWith('/'));
}

async function expectNothingStored(key: string): Promise<void> {
  expect((await fetch(url(key), { method: 'HEAD' })).status).toBe(404);
  expect((await walk(fs.root)).filter((path) => path.includes(key))).toEqual([]);
}

describe('limits.maxObjectSize', () => {
  it('accepts an object of exactly the limit', async () => {
    const { body, contentType } = goMultipart(
      goPutParts({ key: 'exact', data: randomBytes(LIMIT), mode: 1 }),
    );
    const response = await fetch(url('exact'), {
      method: 'PUT',
      body,
      headers: { 'content-type': contentType },
    });
    expect(response.status).toBe(200);
  });

  it('answers 413 JSON to a declared Content-Length over the limit, before the body', async () => {
    const before = await cachedFiles();
    const { body, contentType } = goMultipart(
      goPutParts({ key: 'declared', data: randomBytes(LIMIT + 256 * 1024), mode: 1 }),
    );
    // Only the first 4 KiB are sent: the answer must not wait for the rest.
    const response = await request(url('declared'), {
      method: 'PUT',
      headers: { 'content-type': contentType, 'content-length': String(body.length) },
      body: Readable.from(
        (async function* () {
          yield body.subarray(0, 4096);
          await new Promise(() => {}); // never more
        })(),
      ),
      headersTimeout: 5_000,
    });
    expect(response.statusCode).toBe(413);
    expect(await response.body.json()).toEqual({
      errors: expect.stringContaining(String(LIMIT)),
      code: 'ERR_PAYLOAD_TOO_LARGE',
    });
    expect(await cachedFiles()).toEqual(before);
    await expectNothingStored('declared');
  });

  it('answers 413 to a chunked upload once it crosses the limit, leaving nothing behind', async () => {
    const before = await cachedFiles();
    const { body, contentType } = goMultipart(
      goPutParts({ key: 'chunked', data: randomBytes(LIMIT + 1), mode: 0 }),
    );
    const response = await request(url('chunked'), {
      method: 'PUT',
      headers: { 'content-type': contentType },
      body: Readable.from(
        (async function* () {
          for (let at = 0; at < body.length; at += 64 * 1024) yield body.subarray(at, at + 65536);
        })(),
      ),
    });
    expect(response.statusCode).toBe(413);
    expect(await response.body.json()).toMatchObject({ code: 'ERR_PAYLOAD_TOO_LARGE' });
    expect(await cachedFiles()).toEqual(before);
    await expectNothingStored('chunked');
    expect((await fetch(`${daemon.api}/healthy`)).status).toBe(200);
  });

  it('refuses a form with a field over 4 KiB or more than 16 fields (422)', async () => {
    const long = goMultipart([
      { name: 'mode', value: '0'.repeat(5000) },
      { name: 'file', filename: 'f', data: Buffer.from('x') },
    ]);
    const many = goMultipart([
      ...Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, value: 'v' })),
      { name: 'file', filename: 'f', data: Buffer.from('x') },
    ]);
    for (const { body, contentType } of [long, many]) {
      const response = await fetch(url('fields'), {
        method: 'PUT',
        body,
        headers: { 'content-type': contentType },
      });
      expect(response.status).toBe(422);
      expect(await response.json()).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    }
    await expectNothingStored('fields');
  });

  it('bounds the copy form (read whole) to 64 KiB', async () => {
    const { body, contentType } = goMultipart([
      { name: 'source_object_key', value: 'exact' },
      { name: 'padding', value: 'x'.repeat(100 * 1024) },
    ]);
    const response = await fetch(url('copy-target'), {
      method: 'PUT',
      body,
      headers: { 'content-type': contentType, 'x-dragonfly-object-operation': 'copy' },
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: 'ERR_PAYLOAD_TOO_LARGE' });
  });

  it('still copies with a small form', async () => {
    const { body, contentType } = goMultipart([{ name: 'source_object_key', value: 'exact' }]);
    const response = await fetch(url('copy-target'), {
      method: 'PUT',
      body,
      headers: { 'content-type': contentType, 'x-dragonfly-object-operation': 'copy' },
    });
    expect(response.status).toBe(200);
    expect((await fetch(url('copy-target'), { method: 'HEAD' })).status).toBe(200);
  });
});
