import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Pool } from 'undici';

/**
 * The requests of Dragonfly v2.1.66's Go dfstore client (`client/dfstore/dfstore.go`), rebuilt
 * byte for byte for the protocol conformance suite: paths as `url.URL{Path: filepath.Join(...)}`
 * escapes them, queries as `url.Values.Encode`, multipart bodies as `mime/multipart.Writer` writes
 * them. Requests go out unnormalised (a `..` segment reaches the server as sent).
 */

/** Go's `User-Agent` when the client does not set one. */
export const GO_USER_AGENT = 'Go-http-client/1.1';

/** `path.Clean` of a relative path: no empty, `.` or `..` segments. */
function goClean(path: string): string {
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return out.join('/');
}

const UNRESERVED = /[A-Za-z0-9\-_.~]/;

/** `url.PathEscape`-like escaping of `URL.EscapedPath`: keeps `$&+,/:;=@`, escapes `?` and the rest. */
function goEscapePath(path: string): string {
  return escapeBytes(path, (c) => UNRESERVED.test(c) || '$&+,/:;=@'.includes(c));
}

/** `url.QueryEscape`: space becomes `+`, every reserved character is escaped. */
export function goQueryEscape(value: string): string {
  return escapeBytes(value, (c) => UNRESERVED.test(c), true);
}

function escapeBytes(value: string, keep: (c: string) => boolean, spaceAsPlus = false): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (byte < 0x80 && keep(c)) out += c;
    else if (spaceAsPlus && c === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `url.Values.Encode`: keys sorted, empty-valued parameters left out by the client. */
export function goQuery(params: Record<string, string | number | undefined>): string {
  const pairs = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== '')
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${goQueryEscape(k)}=${goQueryEscape(String(v))}`);
  return pairs.length > 0 ? `?${pairs.join('&')}` : '';
}

/** The path the Go client requests for an object (trailing `/` of the key re-added). */
export function goObjectPath(bucket: string, key: string): string {
  const joined = goClean(`buckets/${bucket}/objects/${key}`);
  return `/${goEscapePath(joined)}${key.endsWith('/') ? '/' : ''}`;
}

/** `filepath.Base`: last element after trailing slashes are removed. */
export function goBase(key: string): string {
  const trimmed = key.replace(/\/+$/, '');
  if (trimmed === '') return key === '' ? '.' : '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

export type FormPart =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly filename: string; readonly data: Buffer };

/** A `multipart/form-data` body exactly as `multipart.Writer` lays it out, parts in the given order. */
export function goMultipart(parts: readonly FormPart[]): { body: Buffer; contentType: string } {
  const boundary = randomBytes(30).toString('hex');
  const chunks: Buffer[] = [];
  parts.forEach((part, i) => {
    const quote = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    let head = `${i === 0 ? '' : '\r\n'}--${boundary}\r\n`;
    head += `Content-Disposition: form-data; name="${quote(part.name)}"`;
    if ('data' in part) {
      head += `; filename="${quote(part.filename)}"\r\nContent-Type: application/octet-stream`;
    }
    chunks.push(
      Buffer.from(`${head}\r\n\r\n`),
      'data' in part ? part.data : Buffer.from(part.value),
    );
  });
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export interface GoPutInput {
  readonly key: string;
  readonly data: Buffer;
  readonly mode: number | string;
  readonly filter?: string;
  readonly maxReplicas?: number | string;
}

/** The PUT form in the Go client's order: mode, filter (when set), maxReplicas (when > 0), file. */
export function goPutParts(input: GoPutInput): FormPart[] {
  const parts: FormPart[] = [{ name: 'mode', value: String(input.mode) }];
  if (input.filter) parts.push({ name: 'filter', value: input.filter });
  if (input.maxReplicas !== undefined) {
    parts.push({ name: 'maxReplicas', value: String(input.maxReplicas) });
  }
  parts.push({ name: 'file', filename: goBase(input.key), data: input.data });
  return parts;
}

export interface WireResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with `, `. */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export interface WireRequest {
  readonly headers?: Record<string, string>;
  readonly body?: Buffer;
}

/** An HTTP/1.1 client for one origin that sends paths verbatim. */
export class WireClient {
  readonly #pool: Pool;

  /** `headers` go with every request (e.g. the Basic credentials of an authenticated front). */
  constructor(
    readonly origin: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    this.#pool = new Pool(origin, { connections: 8 });
  }

  async send(method: string, path: string, request: WireRequest = {}): Promise<WireResponse> {
    const response = await this.#pool.request({
      method,
      path,
      headers: { 'user-agent': GO_USER_AGENT, ...this.headers, ...request.headers },
      body: request.body,
    });
    const body = Buffer.from(await response.body.arrayBuffer());
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return { status: response.statusCode, headers, body };
  }

  /** PUT of a multipart form (Go client: Content-Type from the writer, Content-Length set). */
  putForm(path: string, parts: readonly FormPart[], headers: Record<string, string> = {}) {
    const { body, contentType } = goMultipart(parts);
    return this.send('PUT', path, { body, headers: { 'content-type': contentType, ...headers } });
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

/**
 * Writes `head` (request line and headers, no body) on a fresh connection and returns the status
 * of whatever the server answers before it closes. For requests undici refuses to build or that a
 * server may cut off mid-write (oversized headers); 0 when nothing came back.
 */
export function rawStatus(origin: string, head: string): Promise<number> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: hostname, port: Number(port) });
    const done = () => {
      socket.destroy();
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(Buffer.concat(chunks).toString('latin1'));
      resolve(match ? Number(match[1]) : 0);
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (Buffer.concat(chunks).includes('\r\n\r\n')) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.setTimeout(10_000, done);
    socket.write(head);
  });
}
