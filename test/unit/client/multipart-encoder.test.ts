import { Readable } from 'node:stream';
import { Busboy } from '@fastify/busboy';
import { describe, expect, it } from 'vitest';
import { encodeMultipart, escapeQuotes } from '../../../lib/client/multipart-encoder.ts';
import { preparePutBody } from '../../../lib/client/put-body.ts';
import { WriteMode } from '../../../lib/core/write-mode.ts';
import { readAll } from '../../helpers/streams.ts';

interface ParsedForm {
  /** Every part in wire order: `field:name=value` or `file:name`. */
  readonly order: string[];
  readonly fields: Map<string, string>;
  readonly filename?: string;
  readonly fileType?: string;
  readonly file?: Buffer;
}

/** Parses a form with the same parser the API uses (paths preserved to see the raw filename). */
async function parseForm(body: Buffer, contentType: string): Promise<ParsedForm> {
  return new Promise((resolve, reject) => {
    const order: string[] = [];
    const fields = new Map<string, string>();
    let filename: string | undefined;
    let fileType: string | undefined;
    let file: Promise<Buffer> | undefined;
    const parser = new Busboy({ headers: { 'content-type': contentType }, preservePath: true });
    parser.on('field', (name, value) => {
      order.push(`field:${name}=${value}`);
      fields.set(name, value);
    });
    parser.on('file', (name, stream, name2, _encoding, mime) => {
      order.push(`file:${name}`);
      filename = name2;
      fileType = mime;
      file = readAll(stream);
    });
    parser.on('error', reject);
    parser.on('finish', async () => {
      resolve({ order, fields, filename, fileType, file: await file });
    });
    parser.end(body);
  });
}

const boundary = 'b0undary';

describe('encodeMultipart', () => {
  it('produces the bytes of Go’s multipart.Writer', async () => {
    const form = encodeMultipart(
      [
        ['mode', '1'],
        ['maxReplicas', '3'],
      ],
      {
        field: 'file',
        filename: 'k.txt',
        contentType: 'application/octet-stream',
        body: Readable.from([Buffer.from('hello')]),
        size: 5,
      },
      { boundary },
    );
    const bytes = await readAll(form.stream);
    expect(bytes.toString()).toBe(
      [
        `--${boundary}`,
        'Content-Disposition: form-data; name="mode"',
        '',
        '1',
        `--${boundary}`,
        'Content-Disposition: form-data; name="maxReplicas"',
        '',
        '3',
        `--${boundary}`,
        'Content-Disposition: form-data; name="file"; filename="k.txt"',
        'Content-Type: application/octet-stream',
        '',
        'hello',
        `--${boundary}--`,
        '',
      ].join('\r\n'),
    );
    expect(form.contentType).toBe(`multipart/form-data; boundary=${boundary}`);
    expect(form.contentLength).toBe(bytes.length);
  });

  it.each([0, 1, 65_535, 65_536, 1_000_003])(
    'declares exactly the length it produces for a %i-byte file',
    async (size) => {
      const chunks = [Buffer.alloc(Math.floor(size / 2), 1), Buffer.alloc(Math.ceil(size / 2), 2)];
      const form = encodeMultipart([['mode', '0']], {
        field: 'file',
        filename: 'x',
        contentType: 'application/octet-stream',
        body: Readable.from(chunks),
        size,
      });
      const bytes = await readAll(form.stream);
      expect(form.contentLength).toBe(bytes.length);
      const parsed = await parseForm(bytes, form.contentType);
      expect(parsed.file?.equals(Buffer.concat(chunks))).toBe(true);
    },
  );

  it('leaves the length unknown (chunked upload) when the file size is not given', async () => {
    const form = encodeMultipart([['mode', '0']], {
      field: 'file',
      filename: 'x',
      contentType: 'application/octet-stream',
      body: Readable.from([Buffer.from('abc')]),
    });
    expect(form.contentLength).toBeUndefined();
    expect((await parseForm(await readAll(form.stream), form.contentType)).file?.toString()).toBe(
      'abc',
    );
  });

  it('fails rather than send a form of the wrong length when the body is shorter or longer', async () => {
    for (const size of [4, 2]) {
      const form = encodeMultipart([], {
        field: 'file',
        filename: 'x',
        contentType: 'application/octet-stream',
        body: Readable.from([Buffer.from('abc')]),
        size,
      });
      await expect(readAll(form.stream)).rejects.toThrow(/declared|ended after/);
    }
  });

  it.each([
    ['plain.txt', 'plain.txt'],
    ['say "hi".txt', 'say \\"hi\\".txt'],
    ['back\\slash', 'back\\\\slash'],
    ['日本語 ファイル 😀.bin', '日本語 ファイル 😀.bin'],
    ['evil\r\nX-Injected: 1', 'evil%0D%0AX-Injected: 1'],
  ])('escapes filename %j as %j and the server parser reads it back', async (name, escaped) => {
    expect(escapeQuotes(name)).toBe(escaped);
    const form = encodeMultipart([], {
      field: 'file',
      filename: name,
      contentType: 'application/octet-stream',
      body: Readable.from([]),
      size: 0,
    });
    const bytes = await readAll(form.stream);
    expect(bytes.length).toBe(form.contentLength);
    const parsed = await parseForm(bytes, form.contentType);
    expect(parsed.filename).toBe(name.includes('\r') ? escaped : name);
    expect(parsed.order).toEqual(['file:file']);
  });
});

describe('preparePutBody', () => {
  async function encodedPut(options: Parameters<typeof preparePutBody>[2], key = 'dir/name.bin') {
    const put = await preparePutBody(key, Readable.from([Buffer.from('data')]), options);
    const bytes = await readAll(put.stream);
    return { put, bytes, parsed: await parseForm(bytes, put.headers['content-type'] ?? '') };
  }

  it('sends mode, filter, maxReplicas, then file named after the key’s basename', async () => {
    const { parsed, put, bytes } = await encodedPut({
      mode: WriteMode.WriteBack,
      filter: 'Expires&Signature',
      maxReplicas: 5,
      contentLength: 4,
    });
    expect(parsed.order).toEqual([
      'field:mode=1',
      'field:filter=Expires&Signature',
      'field:maxReplicas=5',
      'file:file',
    ]);
    expect(parsed.filename).toBe('name.bin');
    expect(parsed.fileType).toBe('application/octet-stream');
    expect(put.headers['content-length']).toBe(String(bytes.length));
  });

  it('omits an unset filter and a zero maxReplicas, like the Go client; defaults mode to 0', async () => {
    const { parsed, put } = await encodedPut({ maxReplicas: 0 }, 'top/');
    expect(parsed.order).toEqual(['field:mode=0', 'file:file']);
    expect(parsed.filename).toBe('top');
    expect(put.headers['content-length']).toBeUndefined();
  });

  it('rejects out-of-range mode and maxReplicas with the Go client’s messages', async () => {
    const body = () => Readable.from([]);
    await expect(preparePutBody('k', body(), { mode: 3 as WriteMode })).rejects.toThrow(
      'invalid Mode',
    );
    await expect(preparePutBody('k', body(), { maxReplicas: 101 })).rejects.toThrow(
      'invalid MaxReplicas',
    );
  });

  it('reports progress in file bytes', async () => {
    const seen: number[] = [];
    const put = await preparePutBody('k', Readable.from([Buffer.alloc(3), Buffer.alloc(4)]), {
      onProgress: (sent) => seen.push(sent),
    });
    await readAll(put.stream);
    expect(seen).toEqual([3, 7]);
  });
});
