import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { goBase, goObjectPath } from '../helpers/go-dfstore-wire.ts';
import {
  expectGetBody,
  expectHeadHeaders,
  expectJsonError,
  expectRoundTrip,
  goCopy,
  goDelete,
  goGet,
  goHead,
  goList,
  goPut,
  json,
  MiB,
  md5Digest,
  sha256,
  type Target,
} from './dfstore-protocol-target.ts';

const listedKeys = (body: unknown) =>
  (body as { Metadatas: { Key: string }[] }).Metadatas.map((m) => m.Key);

/** PUT / HEAD / GET / copy / DELETE of objects (PROTOCOL.md §2–§4). */
export function describeObjects(target: Target): void {
  describe('PUT, HEAD and GET', () => {
    it.each([0, 1, 2])('mode %i: 200, then HEAD and GET serve the object', async (mode) => {
      const t = target();
      const key = `modes/mode-${mode}.bin`;
      const data = randomBytes(4096 + mode);
      const put = await goPut(t, { key, data, mode, maxReplicas: 3 });
      expect(put.status).toBe(200);
      expect(put.body).toHaveLength(0);
      const head = await goHead(t, key);
      expectHeadHeaders(head, data);
      expectGetBody(await goGet(t, key), data, head);
    });

    it('accepts the optional filter field between mode and maxReplicas', async () => {
      const data = randomBytes(100);
      const put = await goPut(target(), {
        key: 'fields/filtered.bin',
        data,
        mode: 0,
        filter: 'Expires&Signature&ns',
        maxReplicas: 3,
      });
      expect(put.status).toBe(200);
      expectGetBody(await goGet(target(), 'fields/filtered.bin'), data);
    });

    it('accepts a form without maxReplicas (the Go client omits 0) and with maxReplicas 0', async () => {
      const t = target();
      const data = randomBytes(64);
      expect((await goPut(t, { key: 'fields/no-replicas', data, mode: 1 })).status).toBe(200);
      const zero = { key: 'fields/zero-replicas', data, mode: 1, maxReplicas: 0 };
      expect((await goPut(t, zero)).status).toBe(200);
      expectHeadHeaders(await goHead(t, 'fields/zero-replicas'), data);
    });

    it('stores a 0-byte object', async () => {
      await expectRoundTrip(target(), 'fields/empty', Buffer.alloc(0));
    });

    it('round-trips a 20 MiB object byte-identical', async ({ skip }) => {
      const t = target();
      const data = randomBytes(20 * MiB + 7);
      if (t.inlineLimit !== undefined && data.length > t.inlineLimit) skip();
      expect((await goPut(t, { key: 'large/20m.bin', data, mode: 1, maxReplicas: 3 })).status).toBe(
        200,
      );
      const head = await goHead(t, 'large/20m.bin');
      expect(head.headers['content-length']).toBe(String(data.length));
      expect(head.headers['x-dragonfly-object-meta-digest']).toBe(md5Digest(data));
      const got = await goGet(t, 'large/20m.bin');
      expect(got.status).toBe(200);
      expect(got.body.length).toBe(data.length);
      expect(sha256(got.body)).toBe(sha256(data));
    });
  });

  describe('object keys', () => {
    it.each([
      ['spaces', 'dir with space/file name.txt'],
      ['plus and equals', 'plus+sign/a+b=c.txt'],
      ['unicode', 'ünïcødé/文件 ✓.bin'],
      ['a literal %2F and %25 inside a segment', 'pct/a%2Fb%25c.txt'],
      ['reserved characters', "specials/!*'()&$,;=@:~.txt"],
      ['a trailing slash', 'trailing/dir/'],
    ])('keeps a key with %s exactly', async (_, key) => {
      const t = target();
      const data = Buffer.from(`body of ${key}`);
      await expectRoundTrip(t, key, data);
      const prefix = key.slice(0, key.indexOf('/') + 1);
      const listed = await goList(t, { prefix, limit: 1000 });
      expect(listed.status).toBe(200);
      expect(listedKeys(json(listed))).toContain(key);
    });

    it('treats a key with a trailing slash and the same key without it as distinct', async () => {
      const t = target();
      await expectRoundTrip(t, 'slash/only-dir/', Buffer.from('dir marker'));
      expectJsonError(await goHead(t, 'slash/only-dir'), 404, true);
    });

    it('percent-decodes %2F inside a raw path segment into a slash', async () => {
      const t = target();
      const data = Buffer.from('encoded slash');
      const path = `/buckets/${t.bucket}/objects/encoded%2Fslash.txt`;
      const put = await t.http.putForm(path, [
        { name: 'mode', value: '1' },
        { name: 'maxReplicas', value: '3' },
        { name: 'file', filename: 'slash.txt', data },
      ]);
      expect(put.status).toBe(200);
      expectHeadHeaders(await goHead(t, 'encoded/slash.txt'), data);
      expectGetBody(await goGet(t, 'encoded/slash.txt'), data);
    });

    it.each([
      ['a before a/b', ['nest1/a', 'nest1/a/b']],
      ['a/b before a', ['nest2/a/b', 'nest2/a']],
      ['a/b, a, a/', ['nest3/a/b', 'nest3/a', 'nest3/a/']],
    ])('stores a key equal to a directory prefix of another (%s)', async (_, keys) => {
      const t = target();
      for (const key of keys) {
        const put = await goPut(t, { key, data: Buffer.from(key), mode: 1, maxReplicas: 3 });
        expect(put.status, `PUT ${key}`).toBe(200);
      }
      for (const key of keys) {
        const data = Buffer.from(key);
        expectHeadHeaders(await goHead(t, key), data);
        expectGetBody(await goGet(t, key), data);
      }
      const prefix = keys[0]?.split('/')[0] ?? '';
      const listed = await goList(t, { prefix: `${prefix}/`, limit: 1000 });
      expect(listedKeys(json(listed))).toEqual([...keys].sort());
    });
  });

  describe('PUT form validation', () => {
    const data = Buffer.from('form order');
    const file = (key: string) => ({ name: 'file', filename: goBase(key), data });

    it.each([
      ['file first', (key: string) => [file(key), { name: 'mode', value: '1' }]],
      [
        'file between mode and maxReplicas',
        (key: string) => [
          { name: 'mode', value: '0' },
          file(key),
          { name: 'maxReplicas', value: '2' },
        ],
      ],
    ])('accepts the fields in another order (%s)', async (label, parts) => {
      const t = target();
      const key = `order/${label.replace(/ /g, '-')}`;
      expect((await t.http.putForm(goObjectPath(t.bucket, key), parts(key))).status).toBe(200);
      expectHeadHeaders(await goHead(t, key), data);
      expectGetBody(await goGet(t, key), data);
    });

    it.each([
      ['missing file', { mode: '1', maxReplicas: '3' }, false],
      ['mode 3', { mode: '3', maxReplicas: '3' }, true],
      ['mode x', { mode: 'x', maxReplicas: '3' }, true],
      ['maxReplicas 101', { mode: '1', maxReplicas: '101' }, true],
      ['maxReplicas -1', { mode: '1', maxReplicas: '-1' }, true],
    ])('rejects %s with 422 and stores nothing', async (label, fields, withFile) => {
      const t = target();
      const key = `invalid/${label.replace(/ /g, '-')}`;
      const parts = Object.entries(fields).map(([name, value]) => ({ name, value }));
      const put = await t.http.putForm(
        goObjectPath(t.bucket, key),
        withFile ? [...parts, file(key)] : parts,
      );
      expectJsonError(put, 422);
      expectJsonError(await goHead(t, key), 404, true);
    });

    it('rejects a body that is not multipart/form-data with 422', async () => {
      const t = target();
      const response = await t.http.send('PUT', goObjectPath(t.bucket, 'invalid/raw-body'), {
        body: Buffer.from('raw bytes'),
        headers: { 'content-type': 'application/octet-stream' },
      });
      expectJsonError(response, 422);
    });
  });

  describe('copy (X-Dragonfly-Object-Operation: copy)', () => {
    it.each([0, 1])(
      'copies an object written with mode %i: same bytes and digest',
      async (mode) => {
        const t = target();
        const data = randomBytes(3000);
        const source = `copy/ün source ${mode}.bin`;
        const destination = `copy/dest +${mode}.bin`;
        expect((await goPut(t, { key: source, data, mode, maxReplicas: 3 })).status).toBe(200);
        const copied = await goCopy(t, source, destination);
        expect(copied.status).toBe(200);
        expect(copied.body).toHaveLength(0);
        const head = await goHead(t, destination);
        expectHeadHeaders(head, data);
        expectGetBody(await goGet(t, destination), data, head);
        expectGetBody(await goGet(t, source), data);
      },
    );

    it('answers 404 JSON when the source does not exist', async () => {
      const t = target();
      expectJsonError(await goCopy(t, 'copy/no-such-source', 'copy/never'), 404);
      expectJsonError(await goHead(t, 'copy/never'), 404, true);
    });

    it.each([
      ['no source_object_key field', [{ name: 'source', value: 'copy/x' }]],
      ['an empty source_object_key', [{ name: 'source_object_key', value: '' }]],
    ])('answers 422 JSON for %s', async (_, parts) => {
      const t = target();
      const response = await t.http.putForm(goObjectPath(t.bucket, 'copy/never'), parts, {
        'x-dragonfly-object-operation': 'copy',
      });
      expectJsonError(response, 422);
    });
  });

  describe('DELETE', () => {
    it.each([0, 1])(
      'deletes an object written with mode %i: then HEAD and GET are 404',
      async (mode) => {
        const t = target();
        const key = `delete/victim-${mode}.txt`;
        expect(
          (await goPut(t, { key, data: Buffer.from('bye'), mode, maxReplicas: 3 })).status,
        ).toBe(200);
        const deleted = await goDelete(t, key);
        expect(deleted.status).toBe(200);
        expect(deleted.body).toHaveLength(0);
        // A pending write-back must not bring the object back.
        for (let i = 0; i < 3; i++) {
          expectJsonError(await goHead(t, key), 404, true);
          const got = await goGet(t, key);
          expectJsonError(got, 404);
          expect((json(got) as { errors: string }).errors).toBe('Not Found');
          await sleep(200);
        }
      },
    );

    it('answers 200 for a key that does not exist', async () => {
      const deleted = await goDelete(target(), 'delete/never-existed');
      expect(deleted.status).toBe(200);
    });
  });
}
