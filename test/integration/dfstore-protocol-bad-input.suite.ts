import { describe, expect, it } from 'vitest';
import { goMultipart, rawStatus } from '../helpers/go-dfstore-wire.ts';
import { expectJsonError, json, type Target } from './dfstore-protocol-target.ts';

/** Requests no well-behaved client sends: each must fail cleanly (PROTOCOL.md §2 FIX safety). */
export function describeBadInput(target: Target): void {
  const putForm = () =>
    goMultipart([
      { name: 'mode', value: '1' },
      { name: 'maxReplicas', value: '3' },
      { name: 'file', filename: 'x', data: Buffer.from('must not be stored') },
    ]);

  /** GET, HEAD, PUT (a valid Go form) and DELETE of one raw path: all 422. */
  async function expectRejectedEverywhere(path: string): Promise<void> {
    const { http } = target();
    const form = putForm();
    const answers = {
      GET: await http.send('GET', path),
      HEAD: await http.send('HEAD', path),
      PUT: await http.send('PUT', path, {
        body: form.body,
        headers: { 'content-type': form.contentType },
      }),
      DELETE: await http.send('DELETE', path),
    };
    for (const [method, response] of Object.entries(answers)) {
      expect(response.status, `${method} ${path}`).toBe(422);
      expectJsonError(response, 422, method === 'HEAD');
    }
  }

  describe('invalid object keys (sent raw, unnormalised)', () => {
    it.each([
      ['a `..` segment in the middle', 'a/../b'],
      ['a leading `..` segment', '../escape'],
      ['a trailing `..` segment', 'a/..'],
      ['a key that is `..`', '..'],
      ['`..` that resolves to the listing route', '../metadatas'],
      ['%2e%2e that resolves to the listing route', '%2e%2e/metadatas'],
      ['a `.` segment in the middle', 'a/./b'],
      ['a leading `.` segment', './a'],
      ['a key that is `.`', '.'],
      ['%2e%2e in the middle', 'a/%2e%2e/b'],
      ['a leading %2e%2e', '%2e%2e/escape'],
      ['a leading %2E%2E', '%2E%2E/escape'],
      ['a mixed .%2e', 'a/.%2e/b'],
      ['%2e as a segment', 'a/%2e/b'],
      ['..%2F (decodes to ../)', '..%2Fescape'],
      ['%2F..%2F inside a segment', 'a%2F..%2Fb'],
      ['an empty key', ''],
      ['a NUL byte', 'a%00b'],
      ['a key that is NUL', '%00'],
      ['an invalid percent-escape', 'a%zzb'],
    ])('rejects %s with 422 JSON', async (_, key) => {
      await expectRejectedEverywhere(`/buckets/${target().bucket}/objects/${key}`);
    });

    it.each([
      ['upper case', 'Bad-Bucket'],
      ['a dot-dot', 'a..b'],
      ['a NUL byte', 'ab%00c'],
    ])('rejects an object path whose bucket name has %s with 422 JSON', async (_, bucket) => {
      await expectRejectedEverywhere(`/buckets/${bucket}/objects/key`);
    });

    it('leaves nothing behind under the names a normalising server would have used', async () => {
      const { http, bucket } = target();
      for (const key of ['b', 'escape', 'a/b']) {
        expectJsonError(await http.send('HEAD', `/buckets/${bucket}/objects/${key}`), 404, true);
      }
    });
  });

  describe('unknown routes', () => {
    it.each([
      ['GET', '/nope'],
      ['GET', '/buckets'],
      ['GET', '/buckets/'],
      ['GET', '/buckets/some-bucket/unknown'],
      ['POST', '/buckets/some-bucket/objects/key'],
      ['PATCH', '/buckets/some-bucket/objects/key'],
      ['DELETE', '/buckets/some-bucket'],
      ['PUT', '/healthy'],
    ])('%s %s → 404 JSON', async (method, path) => {
      expectJsonError(await target().http.send(method, path), 404);
    });

    it('HEAD of an unknown route → 404 without a body', async () => {
      expectJsonError(await target().http.send('HEAD', '/nope'), 404, true);
    });
  });

  describe('oversized request headers', () => {
    it('answers a 64 KiB header with 431 and keeps serving', async () => {
      const { api, http } = target();
      const head =
        'GET /healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
        `X-Padding: ${'a'.repeat(64 * 1024)}\r\nConnection: close\r\n\r\n`;
      for (let i = 0; i < 3; i++) {
        const status = await rawStatus(api, head);
        expect(status, 'status of the oversized request').toBeGreaterThanOrEqual(400);
        expect(status, 'status of the oversized request').toBeLessThan(500);
        expect(status).toBe(431);
      }
      const healthy = await http.send('GET', '/healthy');
      expect(healthy.status).toBe(200);
      expect(json(healthy)).toBe('OK');
    });
  });
}
