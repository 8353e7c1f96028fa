import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Endpoint } from './endpoint.ts';
import { httpErrorFor, MAX_ERROR_BODY_BYTES, parseErrorBody } from './errors.ts';
import { bufferBody, type RequestSigner } from './sigv4.ts';

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';

export interface TransportRequest {
  readonly method: HttpMethod;
  /** Path below the endpoint (already percent-encoded, with its query). */
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: Readable | Buffer | string;
  readonly signal?: AbortSignal;
  /** Follow 301/302/303/307/308 (GET and HEAD only). */
  readonly followRedirects?: boolean;
}

export interface TransportResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Dispatcher.ResponseData['body'];
}

export interface TransportOptions {
  readonly endpoint: Endpoint;
  readonly dispatcher: Dispatcher;
  /** Sent on every request to the endpoint's origin, never to a redirect target elsewhere. */
  readonly headers?: Record<string, string>;
  readonly headersTimeout?: number;
  readonly bodyTimeout?: number;
  /** Signs requests to the endpoint's origin (SigV4 for AWS_IAM function URLs). */
  readonly sign?: RequestSigner;
}

/** Largest body signed whole: a function URL's request payload limit. */
const MAX_SIGNED_BODY = 6 * 1024 * 1024;

export type Transport = (request: TransportRequest) => Promise<TransportResponse>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
/** Headers that may follow a redirect to another origin (a presigned URL needs nothing else). */
const CROSS_ORIGIN_HEADERS = new Set(['range', 'user-agent']);

/**
 * Sends requests to the endpoint and turns every non-2xx answer into a typed DfstoreHttpError
 * (body read, bounded, for the server's `errors`/`code`). GET/HEAD follow redirects: the Lambda
 * front answers large GETs with a 307 to a presigned backend URL. Our credentials (Authorization
 * and the configured headers) go only to the endpoint's own origin, and an https endpoint is never
 * redirected to plain http.
 */
export function createTransport(options: TransportOptions): Transport {
  const { endpoint, dispatcher } = options;
  const ownHeaders: Record<string, string> = {
    'user-agent': 'dfstore-ts-client',
    ...lowerCase(options.headers ?? {}),
  };
  if (endpoint.authorization && !options.sign) ownHeaders.authorization = endpoint.authorization;

  return async (request) => {
    let origin = endpoint.origin;
    let path = `${endpoint.basePath}${request.path}`;
    let headers: Record<string, string> = { ...ownHeaders, ...lowerCase(request.headers ?? {}) };
    let body = request.body;
    if (options.sign && body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) {
      body = await bufferBody(body, MAX_SIGNED_BODY);
    }
    for (let hop = 0; ; hop++) {
      const signed =
        options.sign && origin === endpoint.origin
          ? await options.sign({
              method: request.method,
              url: new URL(`${origin}${path}`),
              headers,
              body: body as Buffer | string | undefined,
            })
          : {};
      const response = await dispatcher.request({
        origin,
        path,
        method: request.method,
        headers: { ...headers, ...signed },
        body,
        signal: request.signal,
        headersTimeout: options.headersTimeout,
        bodyTimeout: options.bodyTimeout,
      });
      const { statusCode: status } = response;
      const location = header(response.headers, 'location');
      const follow =
        request.followRedirects &&
        (request.method === 'GET' || request.method === 'HEAD') &&
        REDIRECTS.has(status) &&
        location !== undefined;
      if (follow) {
        await response.body.dump();
        if (hop >= MAX_REDIRECTS) throw new Error(`too many redirects (over ${MAX_REDIRECTS})`);
        const target = new URL(location, `${origin}${path}`);
        if (target.protocol !== 'https:' && target.protocol !== 'http:') {
          throw new Error(`refusing to follow a redirect to ${target.protocol} URL`);
        }
        if (origin.startsWith('https:') && target.protocol === 'http:') {
          throw new Error('refusing to follow a redirect from https to http');
        }
        if (target.origin !== endpoint.origin) headers = crossOriginHeaders(headers);
        origin = target.origin;
        path = `${target.pathname}${target.search}`;
        continue;
      }
      if (status >= 200 && status < 300) {
        return { status, headers: response.headers, body: response.body };
      }
      const text = request.method === 'HEAD' ? '' : await readBounded(response.body);
      const { message, code } = parseErrorBody(text);
      throw httpErrorFor({
        status,
        method: request.method,
        path: request.path,
        serverMessage: message,
        serverCode: code,
      });
    }
  };
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The body as text, at most MAX_ERROR_BODY_BYTES of it; the rest is discarded. */
async function readBounded(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const buffer = chunk as Buffer;
      chunks.push(buffer);
      size += buffer.length;
      if (size >= MAX_ERROR_BODY_BYTES) break;
    }
  } catch {
    // A broken error body still leaves the status, which is the contract.
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY_BYTES).toString('utf8');
}

function crossOriginHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => CROSS_ORIGIN_HEADERS.has(name)),
  );
}

function lowerCase(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]),
  );
}
