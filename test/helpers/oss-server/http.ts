import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { OssError } from './oss-error.ts';
import type { OssStore } from './store.ts';
import type { Uploads } from './uploads.ts';
import { toXml } from './xml.ts';

/** One request, parsed path-style: `/` (service), `/bucket/` (bucket) or `/bucket/key` (object). */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  readonly bucket?: string;
  readonly key?: string;
  readonly query: URLSearchParams;
  readonly store: OssStore;
  readonly uploads: Uploads;
  /** e.g. `oss-cn-hangzhou`, reported as bucket location. */
  readonly region: string;
  readonly host: string;
}

/** Object headers OSS stores at upload and returns on GET/HEAD (besides `x-oss-meta-*`). */
const STORED_HEADERS = [
  'content-type',
  'content-disposition',
  'content-encoding',
  'content-language',
  'cache-control',
  'expires',
];

export function sendXml(
  ctx: RequestContext,
  status: number,
  root: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): void {
  const xml = Buffer.from(toXml(root, body));
  ctx.res.writeHead(status, {
    ...headers,
    'content-type': 'application/xml',
    'content-length': String(xml.length),
  });
  ctx.res.end(xml);
}

export function sendEmpty(
  ctx: RequestContext,
  status: number,
  headers: Record<string, string> = {},
) {
  ctx.res.writeHead(status, { ...headers, 'content-length': '0' });
  ctx.res.end();
}

/** The object headers of an upload request; Content-Type defaults as OSS's does. */
export function objectHeadersOf(headers: IncomingHttpHeaders): Record<string, string> {
  const picked: Record<string, string> = { 'content-type': 'application/octet-stream' };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (STORED_HEADERS.includes(name) || name.startsWith('x-oss-meta-')) {
      picked[name] = Array.isArray(value) ? value.join(',') : value;
    }
  }
  return picked;
}

export function header(ctx: RequestContext, name: string): string | undefined {
  const value = ctx.req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Reads a small request body (an XML document); larger ones are refused. */
export async function readSmallBody(ctx: RequestContext, limit = 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      throw new OssError(
        400,
        'EntityTooLarge',
        'Your proposed upload exceeds the maximum allowed size.',
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Consumes an unused request body so the connection stays usable. */
export function drain(ctx: RequestContext): void {
  ctx.req.resume();
}
