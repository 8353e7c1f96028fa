import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Pool } from 'undici';

/**
 * The model of the HTTP API fuzzer (test/integration/fuzz-api.test.ts, bench/fuzz.ts): random
 * requests against a live daemon and the invariants every answer must keep. Requests are sent
 * with their paths verbatim (a `..` or `%2F` reaches the server as generated).
 */

export interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
}

/** One byte of a path as sent: printable ASCII raw, everything else percent-encoded. */
function pathEscape(text: string, escapeSlash: boolean): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    const raw = byte > 0x20 && byte < 0x7f && !'?#'.includes(c) && !(escapeSlash && c === '/');
    out += raw ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const segmentParts = fc.constantFrom(
  '.',
  '..',
  '%2e',
  '%2E%2e',
  '%2F',
  '%2f',
  '%',
  '%zz',
  '%00',
  '%C0%AE',
  '%ED%A0%80',
  '\0',
  ' ',
  'é',
  '日本',
  '𝄞',
  '\\',
  '~',
  '+',
  ';',
  '@',
  '*',
  'a',
  'key',
  'dir',
  'x.y',
  '...',
  'con',
);

/** Object keys as clients may write them: unicode, dot segments, escapes, very long. */
export const keyArbitrary: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('a', 'dir/b', 'dir/', 'x y', 'ümlaut/ключ', '日本/語') },
  {
    weight: 4,
    arbitrary: fc
      .array(fc.array(segmentParts, { minLength: 1, maxLength: 3 }), { maxLength: 6 })
      .map((segments) => segments.map((parts) => parts.join('')).join('/')),
  },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('k', 'é', '/'), fc.integer({ min: 900, max: 4000 }))
      .map(([c, n]) => c.repeat(n)),
  },
);

const bucketArbitrary = fc.oneof(
  { weight: 6, arbitrary: fc.constant('fuzz-bucket') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', 'A', 'ab', '..', '1.2.3.4', 'a'.repeat(64), '%2e%2e', 'b_c'),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

const tokenChars = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_'.split(''));
const headerName = fc.string({ unit: tokenChars, minLength: 1, maxLength: 20 });
/** Visible ASCII and spaces, no leading/trailing space: any of these is a legal header value. */
const headerValue = fc
  .string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) })
  .map((s) => s.trim());

const rangeValue = fc.oneof(
  fc.tuple(fc.option(fc.nat()), fc.option(fc.nat())).map(([a, b]) => `bytes=${a ?? ''}-${b ?? ''}`),
  fc.constantFrom('bytes=0-0,5-9', 'bytes=-0', 'bytes=', 'bits=0-1', 'bytes=9-1', 'bytes=0-'),
  fc.constant(`bytes=${'9'.repeat(30)}-`),
  headerValue,
);

const headersArbitrary = fc
  .tuple(
    fc.option(rangeValue, { nil: undefined }),
    fc.option(fc.constantFrom('copy', 'COPY', 'move', ''), { nil: undefined }),
    fc.option(fc.constantFrom('0', '1', 'yes'), { nil: undefined }),
    fc.dictionary(headerName, headerValue, { maxKeys: 6 }),
  )
  .map(([range, operation, replica, extra]) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(extra)) {
      // Framing headers are the client's business; a wrong one is a client bug, not a probe.
      if (
        ![
          'content-length',
          'transfer-encoding',
          'host',
          'connection',
          'expect',
          'upgrade',
        ].includes(name)
      )
        headers[`x-f-${name}`] = value;
    }
    if (range !== undefined) headers.range = range;
    if (operation !== undefined) headers['x-dragonfly-object-operation'] = operation;
    if (replica !== undefined) headers['x-dfstore-replica'] = replica;
    return headers;
  });

type Part = { name: string; value: string } | { name: string; filename: string; data: Buffer };

const partArbitrary: fc.Arbitrary<Part> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('mode', 'filter', 'maxReplicas', 'source_object_key', 'other'),
      fc.oneof(
        fc.constantFrom('0', '1', '2', '3', '-1', '100', '101', '', '1e3', '0x1', ' 1'),
        fc.string({ maxLength: 20 }),
        fc.constant('x'.repeat(5000)),
      ),
    )
    .map(([name, value]) => ({ name, value })),
  fc
    .tuple(fc.constantFrom('file', 'file', 'other'), fc.string({ maxLength: 10 }), fc.nat(70_000))
    .map(([name, filename, size]) => ({ name, filename, data: randomBytes(size % 70_000) })),
);

/** A multipart body: well-formed, or damaged in one of the ways a broken client damages it. */
const multipartArbitrary = fc
  .tuple(
    fc.array(partArbitrary, { maxLength: 5 }),
    fc.constantFrom('ok', 'ok', 'ok', 'truncate', 'no-close', 'bad-boundary', 'junk', 'no-ct'),
    fc.nat(),
  )
  .map(([parts, damage, cut]) => {
    const boundary = `fuzz${randomBytes(8).toString('hex')}`;
    const chunks = parts.map((part) => {
      const disposition = `form-data; name="${part.name}"`;
      const head =
        'data' in part
          ? `--${boundary}\r\nContent-Disposition: ${disposition}; filename="${part.filename.replace(/["\r\n]/g, '')}"\r\nContent-Type: application/octet-stream\r\n\r\n`
          : `--${boundary}\r\nContent-Disposition: ${disposition}\r\n\r\n`;
      return Buffer.concat([
        Buffer.from(head),
        'data' in part ? part.data : Buffer.from(part.value),
        Buffer.from('\r\n'),
      ]);
    });
    let body = Buffer.concat([
      ...chunks,
      Buffer.from(damage === 'no-close' ? '' : `--${boundary}--\r\n`),
    ]);
    if (damage === 'truncate') body = body.subarray(0, cut % (body.length + 1));
    if (damage === 'junk') body = randomBytes(cut % 2048);
    let contentType = `multipart/form-data; boundary=${boundary}`;
    if (damage === 'bad-boundary') contentType = 'multipart/form-data; boundary=';
    if (damage === 'no-ct') contentType = 'application/octet-stream';
    return { body, contentType };
  });

const queryArbitrary = fc
  .dictionary(
    fc.constantFrom('prefix', 'marker', 'delimiter', 'limit', 'filter', 'x'),
    fc.oneof(
      fc.constantFrom('-1', '0', '1', '1001', '1e9', 'abc', '%', '%zz', '/'),
      fc.string({ maxLength: 10 }),
    ),
    { maxKeys: 3 },
  )
  .map((query) => {
    const pairs = Object.entries(query).map(([k, v]) => `${k}=${pathEscape(v, true)}`);
    return pairs.length > 0 ? `?${pairs.join('&')}` : '';
  });

const pathArbitrary = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(bucketArbitrary, keyArbitrary, fc.boolean(), queryArbitrary)
      .map(
        ([bucket, key, escapeSlash, query]) =>
          `/buckets/${pathEscape(bucket, true)}/objects/${pathEscape(key, escapeSlash)}${query}`,
      ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        bucketArbitrary,
        fc.constantFrom('', '/metadatas', '/objects', '/objects/', '/x'),
        queryArbitrary,
      )
      .map(([bucket, rest, query]) => `/buckets/${pathEscape(bucket, true)}${rest}${query}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '/',
      '/healthy',
      '/metadata',
      '/buckets',
      '/buckets/',
      '//',
      '/%2e%2e/metadata',
      '/buckets/../healthy',
      '/metrics',
      '/download/abc/abc',
    ),
  },
  { weight: 1, arbitrary: fc.webPath().map((p) => pathEscape(p || '/', false)) },
);

const methodArbitrary = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE', 'POST') },
  { weight: 1, arbitrary: fc.constantFrom('OPTIONS', 'PATCH', 'TRACE', 'PROPFIND', 'FOO') },
);

/** Keys the well-formed requests share, so that GETs, ranges and copies meet real objects. */
const POOL_KEYS = [
  'a',
  'dir/b',
  'dir/',
  'ümlaut/ключ',
  'x y',
  '日本/語',
  `long/${'k'.repeat(900)}`,
];
const poolPath = fc
  .constantFrom(...POOL_KEYS)
  .map((key) => `/buckets/fuzz-bucket/objects/${pathEscape(key, false)}`);

/** Requests as the Go client sends them, on a few keys: the paths that store and read data. */
const wellFormedArbitrary: fc.Arbitrary<FuzzRequest> = fc.oneof(
  fc
    .tuple(
      poolPath,
      fc.constantFrom('0', '1', '2'),
      fc.option(fc.constantFrom('0', '1', '3', '100'), { nil: undefined }),
      fc.nat(300_000),
      fc.boolean(),
    )
    .map(([path, mode, maxReplicas, size, fileFirst]) => {
      const boundary = `fuzz${randomBytes(8).toString('hex')}`;
      const field = (name: string, value: string) =>
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
      const fields = field('mode', mode) + (maxReplicas ? field('maxReplicas', maxReplicas) : '');
      const file = Buffer.concat([
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n` +
            'Content-Type: application/octet-stream\r\n\r\n',
        ),
        randomBytes(size),
        Buffer.from('\r\n'),
      ]);
      const parts = fileFirst ? [file, Buffer.from(fields)] : [Buffer.from(fields), file];
      return {
        method: 'PUT',
        path,
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]),
      };
    }),
  fc
    .tuple(
      fc.constantFrom('GET', 'HEAD'),
      poolPath,
      fc.oneof(
        fc.constant(undefined),
        fc
          .tuple(fc.option(fc.nat(300_000)), fc.option(fc.nat(300_000)))
          .map(([a, b]) => `bytes=${a ?? ''}-${b ?? ''}`),
        rangeValue,
      ),
    )
    .map(([method, path, range]): FuzzRequest => {
      const headers: Record<string, string> = range === undefined ? {} : { range };
      return { method, path, headers };
    }),
  fc.tuple(poolPath, fc.constantFrom(...POOL_KEYS, '', 'missing', '../a')).map(([path, source]) => {
    const boundary = `fuzz${randomBytes(8).toString('hex')}`;
    const body = `--${boundary}\r\nContent-Disposition: form-data; name="source_object_key"\r\n\r\n${source}\r\n--${boundary}--\r\n`;
    return {
      method: 'PUT',
      path,
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'x-dragonfly-object-operation': 'copy',
      },
      body: Buffer.from(body),
    };
  }),
  poolPath.map((path) => ({ method: 'DELETE', path, headers: {} })),
  fc.tuple(queryArbitrary).map(([query]) => ({
    method: 'GET',
    path: `/buckets/fuzz-bucket/metadatas${query}`,
    headers: {},
  })),
);

const randomRequestArbitrary: fc.Arbitrary<FuzzRequest> = fc
  .tuple(methodArbitrary, pathArbitrary, headersArbitrary, multipartArbitrary, fc.boolean())
  .map(([method, path, headers, form, withBody]) => {
    if (method !== 'PUT' && method !== 'POST' && !withBody) return { method, path, headers };
    if (method === 'GET' || method === 'HEAD') return { method, path, headers };
    return {
      method,
      path: path.startsWith('/') ? path : `/${path}`,
      headers: { ...headers, 'content-type': form.contentType },
      body: form.body,
    };
  });

export const requestArbitrary: fc.Arbitrary<FuzzRequest> = fc.oneof(
  { weight: 2, arbitrary: randomRequestArbitrary },
  { weight: 1, arbitrary: wellFormedArbitrary },
);

/** What one answer broke, or undefined when it kept every invariant. */
export interface Violation {
  readonly request: string;
  readonly why: string;
}

/**
 * Sends `request` and checks it: an answer came (no reset), no 5xx, every error (but a HEAD's)
 * a JSON body `{"errors": string, "code": string}`.
 */
export async function checkRequest(
  pool: Pool,
  request: FuzzRequest,
): Promise<Violation | undefined> {
  const describe = () =>
    `${request.method} ${request.path.slice(0, 300)} ${JSON.stringify(request.headers)} body=${request.body?.length ?? 0}B`;
  let response: Awaited<ReturnType<Pool['request']>>;
  try {
    response = await pool.request({
      method: request.method,
      path: request.path,
      headers: request.headers,
      body: request.body,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    // undici refusing to build the request is not the server's doing.
    if (code === 'UND_ERR_INVALID_ARG') return undefined;
    return { request: describe(), why: `no answer: ${code} ${(error as Error).message}` };
  }
  const body = Buffer.from(await response.body.arrayBuffer());
  const status = response.statusCode;
  if (status >= 500)
    return { request: describe(), why: `status ${status}: ${body.toString().slice(0, 300)}` };
  if (status < 400 || request.method === 'HEAD') return undefined;
  try {
    const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    if (typeof json.errors === 'string' && typeof json.code === 'string' && json.code !== '')
      return undefined;
  } catch {}
  return {
    request: describe(),
    why: `status ${status} without a JSON error body: ${body.toString().slice(0, 200)}`,
  };
}

/** A pool on `origin` for the fuzzer. */
export function fuzzPool(origin: string): Pool {
  return new Pool(origin, { connections: 4, pipelining: 1 });
}
