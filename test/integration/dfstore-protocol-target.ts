import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import {
  type GoPutInput,
  goObjectPath,
  goPutParts,
  goQuery,
  type WireClient,
  type WireResponse,
} from '../helpers/go-dfstore-wire.ts';

/** What every area of the dfstore protocol suite works on, filled in by the suite's beforeAll. */
export interface ProtocolTarget {
  readonly api: string;
  readonly backendName: 's3' | 'oss' | 'fs';
  /** A fresh bucket created through `POST /buckets/:bucket`. */
  readonly bucket: string;
  readonly http: WireClient;
  /** Objects above this size cannot pass the host (the object API function); tests skip them. */
  readonly inlineLimit?: number;
}

export type Target = () => ProtocolTarget;

export const MiB = 1024 * 1024;

export const md5Digest = (data: Buffer) => `md5:${createHash('md5').update(data).digest('hex')}`;
export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** `Mon, 02 Jan 2006 15:04:05 GMT`, Go's http.TimeFormat. */
const HTTP_DATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
/** RFC 3339 as Go's time.Time marshals it (fractional seconds optional, Z or an offset). */
export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

// ---- the Go client's requests ----

/** PutObjectWithContext: fields mode, filter?, maxReplicas?, file; path from filepath.Join. */
export function goPut(t: ProtocolTarget, input: GoPutInput): Promise<WireResponse> {
  return t.http.putForm(goObjectPath(t.bucket, input.key), goPutParts(input));
}

/** GetObjectMetadataWithContext / IsObjectExistWithContext. */
export function goHead(t: ProtocolTarget, key: string): Promise<WireResponse> {
  return t.http.send('HEAD', goObjectPath(t.bucket, key));
}

/**
 * GetObjectWithContext: `?filter=` only when set, `Range` when set. Go's transport adds
 * `Accept-Encoding: gzip` unless the request carries a Range.
 */
export function goGet(
  t: ProtocolTarget,
  key: string,
  options: { range?: string; filter?: string } = {},
): Promise<WireResponse> {
  const headers: Record<string, string> = options.range
    ? { range: options.range }
    : { 'accept-encoding': 'gzip' };
  const path = goObjectPath(t.bucket, key) + goQuery({ filter: options.filter });
  return t.http.send('GET', path, { headers });
}

/** CopyObjectWithContext: one field `source_object_key`, header X-Dragonfly-Object-Operation. */
export function goCopy(t: ProtocolTarget, source: string, destination: string) {
  // The Go client does not re-add a trailing `/` on the destination of a copy.
  const path = goObjectPath(t.bucket, destination.replace(/\/+$/, ''));
  return t.http.putForm(path, [{ name: 'source_object_key', value: source }], {
    'x-dragonfly-object-operation': 'copy',
  });
}

export function goDelete(t: ProtocolTarget, key: string): Promise<WireResponse> {
  return t.http.send('DELETE', goObjectPath(t.bucket, key));
}

/** GetObjectMetadatasWithContext (and JuiceFS, which leaves `limit` out when zero). */
export function goList(
  t: ProtocolTarget,
  query: { prefix?: string; marker?: string; delimiter?: string; limit?: number | string },
): Promise<WireResponse> {
  const path = `/buckets/${t.bucket}/metadatas${goQuery(query)}`;
  return t.http.send('GET', path, { headers: { 'accept-encoding': 'gzip' } });
}

/** PUTs every object with mode 1 (backend written before the ack), a few at a time. */
export async function putAll(t: ProtocolTarget, objects: Record<string, Buffer>, concurrency = 8) {
  const queue = Object.entries(objects);
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [key, data] = next;
      const response = await goPut(t, { key, data, mode: 1, maxReplicas: 3 });
      expect(response.status, `PUT ${key}`).toBe(200);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

// ---- assertions ----

export function json(response: WireResponse): unknown {
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  return JSON.parse(response.body.toString('utf8'));
}

/** An error answer: the status, and (except for HEAD) `{"errors": "...", "code": "ERR_..."}`. */
export function expectJsonError(response: WireResponse, status: number, head = false): void {
  expect(response.status).toBe(status);
  if (head) {
    expect(response.body).toHaveLength(0);
    return;
  }
  const body = json(response) as Record<string, unknown>;
  expect(typeof body.errors).toBe('string');
  expect(body.errors).not.toBe('');
  expect(body.code).toMatch(/^ERR_[A-Z0-9_]+$/);
}

export function expectHttpDate(value: string | undefined): void {
  expect(value).toMatch(HTTP_DATE);
  const at = Date.parse(value ?? '');
  expect(Math.abs(Date.now() - at)).toBeLessThan(15 * 60_000);
}

/**
 * HEAD of an object PUT with `data` through the Go client: every header the Go client and JuiceFS
 * read, the standard ones we add, and no header with an empty value.
 */
export function expectHeadHeaders(response: WireResponse, data: Buffer): void {
  const h = response.headers;
  expect(response.status).toBe(200);
  expect(response.body).toHaveLength(0);
  expect(h['content-length']).toBe(String(data.length));
  expect(h['content-type']).toBe('application/octet-stream');
  expect(h.etag).toMatch(/^"[^"]+"$/);
  expect(h['x-dragonfly-object-meta-digest']).toBe(md5Digest(data));
  expectHttpDate(h['x-dragonfly-object-meta-last-modified-time']);
  expect(h['x-dragonfly-object-meta-storage-class']).toBe('STANDARD');
  expectHttpDate(h['last-modified']);
  expect(h['accept-ranges']).toBe('bytes');
  for (const [name, value] of Object.entries(h)) expect(value, name).not.toBe('');
}

/** A full GET of an object PUT with `data`: same bytes, and the headers HEAD promised. */
export function expectGetBody(response: WireResponse, data: Buffer, head?: WireResponse): void {
  expect(response.status).toBe(200);
  expect(response.body.length).toBe(data.length);
  expect(sha256(response.body)).toBe(sha256(data));
  expect(response.headers['content-type']).toBe('application/octet-stream');
  expect(response.headers.etag).toMatch(/^"[^"]+"$/);
  expectHttpDate(response.headers['last-modified']);
  if (head) {
    expect(response.headers.etag).toBe(head.headers.etag);
    expect(response.headers['last-modified']).toBe(head.headers['last-modified']);
  }
}

/** PUT (Go client), then HEAD and GET must serve exactly `data` under `key`. */
export async function expectRoundTrip(t: ProtocolTarget, key: string, data: Buffer, mode = 1) {
  expect((await goPut(t, { key, data, mode, maxReplicas: 3 })).status, `PUT ${key}`).toBe(200);
  const head = await goHead(t, key);
  expectHeadHeaders(head, data);
  expectGetBody(await goGet(t, key), data, head);
}
