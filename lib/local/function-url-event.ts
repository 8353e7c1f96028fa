import type { FunctionUrlEvent, FunctionUrlResult } from './function-url.ts';
import { isTextContentType } from './function-url.ts';

/**
 * HTTP request ⇄ function URL payloads, the way Lambda maps them (function-url.ts has the
 * shapes). Pure apart from the clock and ids the caller passes in; function-host.ts does the I/O.
 */

/** What the host knows of a request before reading its body. */
export interface RequestHead {
  readonly method: string;
  /** The request target as received (`/a%20b?x=1`). */
  readonly url: string;
  /** `1.1` */
  readonly httpVersion: string;
  /** Node's `headersDistinct`: lower-case names, every value of repeated headers. */
  readonly headers: Readonly<Record<string, readonly string[] | undefined>>;
  readonly sourceIp: string;
  /** The port the host listens on: `x-forwarded-port`. */
  readonly port: number;
}

export interface InvocationIds {
  readonly requestId: string;
  /** The function URL id (32 lower-case alphanumerics on AWS). */
  readonly apiId: string;
  readonly now: Date;
  /** 24 hex digits for `x-amzn-trace-id`. */
  readonly traceId: string;
}

/**
 * Hop-by-hop headers end at the function URL's front end and never reach the function; the
 * function URL replaces the forwarding and trace headers with its own.
 */
const DROPPED_REQUEST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'cookie',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-amzn-trace-id',
]);

/** The event for `head`, without `body` (see withBody). */
export function eventHead(head: RequestHead, ids: InvocationIds): FunctionUrlEvent {
  const query = head.url.indexOf('?');
  const rawPath = query === -1 ? head.url : head.url.slice(0, query);
  const rawQueryString = query === -1 ? '' : head.url.slice(query + 1);
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(head.headers)) {
    // AWS joins repeated headers with a bare comma: "header2": "value1,value2".
    if (values && !DROPPED_REQUEST_HEADERS.has(name)) headers[name] = values.join(',');
  }
  const epochSeconds = Math.floor(ids.now.getTime() / 1000).toString(16);
  headers['x-amzn-trace-id'] = `Root=1-${epochSeconds.padStart(8, '0')}-${ids.traceId}`;
  headers['x-forwarded-for'] = head.sourceIp;
  // Locally the client spoke plain HTTP to this port (AWS: https, 443).
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-port'] = String(head.port);
  const cookies = (head.headers.cookie ?? [])
    .flatMap((line) => line.split(';'))
    .map((cookie) => cookie.trim())
    .filter((cookie) => cookie !== '');
  const queryStringParameters = parseQuery(rawQueryString);
  // AWS: `<apiId>.lambda-url.<region>.on.aws`. Locally the Host header, port included, so that
  // URLs built from it lead back to this host.
  const domainName = headers.host ?? `${ids.apiId}.lambda-url.localhost`;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    ...(cookies.length > 0 && { cookies }),
    headers,
    ...(queryStringParameters && { queryStringParameters }),
    requestContext: {
      accountId: 'anonymous',
      apiId: ids.apiId,
      domainName,
      domainPrefix: domainName.replace(/:\d+$/, '').split('.', 1)[0] ?? domainName,
      http: {
        method: head.method,
        path: rawPath,
        protocol: `HTTP/${head.httpVersion}`,
        sourceIp: head.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: ids.requestId,
      routeKey: '$default',
      stage: '$default',
      time: clfTime(ids.now),
      timeEpoch: ids.now.getTime(),
    },
    isBase64Encoded: false,
  };
}

/** Decoded parameters, repeated ones joined with `,`; undefined for an empty query. */
function parseQuery(rawQueryString: string): Record<string, string> | undefined {
  if (rawQueryString === '') return undefined;
  const parameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    parameters[name] = name in parameters ? `${parameters[name]},${value}` : value;
  }
  return parameters;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `07/Sep/2021:22:50:22 +0000` (UTC, common log format). */
export function clfTime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const day = `${two(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}`;
  const time = `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
  return `${day}:${time} +0000`;
}

/**
 * Whether the body of a request with these headers would travel as text, if it is valid UTF-8:
 * a text content type and no content encoding.
 */
export function textCandidate(headers: Readonly<Record<string, string>>): boolean {
  const encoding = headers['content-encoding'];
  return (!encoding || encoding === 'identity') && isTextContentType(headers['content-type']);
}

/**
 * The fewest bytes `bodyBytes` of body can add to the event payload: text as-is (JSON escaping
 * only adds), binary as base64. With the head's size this bounds the payload from below while
 * the body is still arriving.
 */
export function minEncodedBytes(bodyBytes: number, text: boolean): number {
  return text ? bodyBytes : Math.ceil(bodyBytes / 3) * 4;
}

/** `,"body":""` and `true` for `false`: what a body adds to the head's JSON besides itself. */
export const BODY_FIELD_BYTES = 10;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The complete event: text bodies as-is when they are valid UTF-8, everything else base64. */
export function withBody(head: FunctionUrlEvent, body: Buffer): FunctionUrlEvent {
  if (body.length === 0) return head;
  const { isBase64Encoded: _, ...fields } = head;
  let text: string | undefined;
  if (textCandidate(head.headers)) {
    try {
      text = utf8.decode(body);
    } catch {
      // Not UTF-8 after all: it can only travel as base64.
    }
  }
  return text === undefined
    ? { ...fields, body: body.toString('base64'), isBase64Encoded: true }
    : { ...fields, body: text, isBase64Encoded: false };
}

/** A result the function URL cannot turn into HTTP; the client gets a 502. */
export class InvalidResultError extends Error {
  override readonly name = 'InvalidResultError' as const;
}

export interface HttpResponseParts {
  readonly status: number;
  /** Lower-case names. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly body: Buffer;
  /** The result's own `content-length`: what a HEAD answer announces (its body is empty). */
  readonly declaredLength?: string;
}

/** Never forwarded from a result: the host frames the body itself. */
const DROPPED_RESPONSE_HEADERS = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
]);

/**
 * The HTTP response for a function's return value. A value without `statusCode` is inferred as
 * AWS does: 200, `application/json`, the value serialized as the body (so a returned string
 * arrives quoted).
 */
export function responseOf(result: unknown): HttpResponseParts {
  if (!isStructured(result)) {
    return {
      status: 200,
      headers: new Map([['content-type', ['application/json']]]),
      body: Buffer.from(JSON.stringify(result ?? null)),
    };
  }
  const status = result.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    throw new InvalidResultError(`statusCode ${JSON.stringify(status)} is not an HTTP status`);
  }
  const headers = new Map<string, string[]>();
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    headers.set(name.toLowerCase(), [String(value)]);
  }
  // As API Gateway merges them: a name in multiValueHeaders replaces the same name in headers.
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) {
    if (!Array.isArray(values))
      throw new InvalidResultError(`multiValueHeaders.${name}: not a list`);
    headers.set(name.toLowerCase(), values.map(String));
  }
  if (result.cookies && result.cookies.length > 0) {
    headers.set('set-cookie', [...(headers.get('set-cookie') ?? []), ...result.cookies]);
  }
  const declaredLength = headers.get('content-length')?.[0];
  for (const name of DROPPED_RESPONSE_HEADERS) headers.delete(name);
  const body = result.body ?? '';
  if (typeof body !== 'string') throw new InvalidResultError('body must be a string');
  return {
    status,
    headers,
    body: result.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body),
    ...(declaredLength !== undefined && { declaredLength }),
  };
}

function isStructured(result: unknown): result is FunctionUrlResult {
  return (
    typeof result === 'object' &&
    result !== null &&
    !Array.isArray(result) &&
    'statusCode' in result
  );
}
