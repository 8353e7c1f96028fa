import type { DfstoreClient } from '../client/dfstore-client.ts';
import { parseEndpoint } from '../client/endpoint.ts';
import { httpErrorFor, MAX_ERROR_BODY_BYTES, parseErrorBody } from '../client/errors.ts';
import { metadataFromHeaders, parseListPage } from '../client/metadata.ts';
import { encodeMultipartFields } from '../client/multipart-encoder.ts';
import { bucketPath, metadatasPath, objectPath, withQuery } from '../client/object-path.ts';
import { preparePutBody } from '../client/put-body.ts';
import { COPY_OPERATION, HeaderNames } from '../core/headers.ts';
import { formatRangeHeader } from '../core/range.ts';
import type { P2pClient } from '../peer/p2p-client.ts';
import { P2pHttpError } from '../peer/p2p-errors.ts';
import { currentVersionSchema, keyChangeResultSchema, P2P_PREFIX } from '../peer/p2p-protocol.ts';
import { dump, type HttpAnswer, type HttpCaller, readText } from './http-caller.ts';

/**
 * The calls the object API function makes to seed peers, over its node:http caller (no undici,
 * see http-caller.ts): their dfstore object API (what createSeedPeerObjectService forwards) and
 * four P2P calls. Same requests and the same errors (DfstoreHttpError, P2pHttpError) as
 * lib/client/dfstore-client.ts and lib/peer/p2p-client.ts, which the CLI and daemons keep.
 */
export type SeedPeerObjectApi = Pick<
  DfstoreClient,
  | 'createBucket'
  | 'listObjects'
  | 'headObject'
  | 'getObject'
  | 'putObject'
  | 'copyObject'
  | 'deleteObject'
>;

export type SeedPeerP2p = Pick<
  P2pClient,
  'currentVersion' | 'flushKey' | 'importTask' | 'keyChanged'
>;

export interface SeedPeerTimeouts {
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const CROSS_ORIGIN_HEADERS = new Set(['range', 'user-agent']);

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';

interface ObjectApiRequest {
  readonly method: Method;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: Parameters<HttpCaller['call']>[0]['body'];
  readonly signal?: AbortSignal;
  readonly followRedirects?: boolean;
}

/** A seed peer's dfstore object API at `objectApi` (lib/client/transport.ts's rules). */
export function createSeedPeerObjectApi(
  http: HttpCaller,
  objectApi: string,
  timeouts: SeedPeerTimeouts,
): SeedPeerObjectApi {
  const endpoint = parseEndpoint(objectApi);
  const ownHeaders: Record<string, string> = { 'user-agent': 'dfstore-ts-client' };
  if (endpoint.authorization) ownHeaders.authorization = endpoint.authorization;

  async function send(request: ObjectApiRequest): Promise<HttpAnswer> {
    let url = new URL(`${endpoint.origin}${endpoint.basePath}${request.path}`);
    let headers: Record<string, string> = { ...ownHeaders, ...request.headers };
    for (let hop = 0; ; hop++) {
      const answer = await http.call({ ...timeouts, ...request, url, headers });
      const location = first(answer.headers.location);
      const follow =
        request.followRedirects &&
        (request.method === 'GET' || request.method === 'HEAD') &&
        REDIRECTS.has(answer.status) &&
        location !== undefined;
      if (follow) {
        await dump(answer.body);
        if (hop >= MAX_REDIRECTS) throw new Error(`too many redirects (over ${MAX_REDIRECTS})`);
        const target = new URL(location, url);
        if (target.protocol !== 'https:' && target.protocol !== 'http:') {
          throw new Error(`refusing to follow a redirect to ${target.protocol} URL`);
        }
        if (url.protocol === 'https:' && target.protocol === 'http:') {
          throw new Error('refusing to follow a redirect from https to http');
        }
        if (target.origin !== endpoint.origin) {
          headers = Object.fromEntries(
            Object.entries(headers).filter(([name]) => CROSS_ORIGIN_HEADERS.has(name)),
          );
        }
        url = target;
        continue;
      }
      if (answer.status >= 200 && answer.status < 300) return answer;
      const text =
        request.method === 'HEAD'
          ? ''
          : await readText(answer.body, MAX_ERROR_BODY_BYTES).catch(() => '');
      answer.body.destroy();
      const { message, code } = parseErrorBody(text);
      throw httpErrorFor({
        status: answer.status,
        method: request.method,
        path: request.path,
        serverMessage: message,
        serverCode: code,
      });
    }
  }
  const drain = async (request: ObjectApiRequest) => dump((await send(request)).body);
  const json = async (request: ObjectApiRequest): Promise<unknown> =>
    JSON.parse(await readText((await send(request)).body));

  return {
    createBucket: (bucket, opts = {}) =>
      drain({ method: 'POST', path: bucketPath(bucket), signal: opts.signal }),
    async listObjects(bucket, opts = {}) {
      const path = withQuery(metadatasPath(bucket), {
        prefix: opts.prefix,
        marker: opts.marker,
        delimiter: opts.delimiter,
        limit: opts.limit,
      });
      return parseListPage(await json({ method: 'GET', path, signal: opts.signal }));
    },
    async headObject(bucket, key, opts = {}) {
      const answer = await send({
        method: 'HEAD',
        path: objectPath(bucket, key),
        signal: opts.signal,
        followRedirects: true,
      });
      await dump(answer.body);
      return metadataFromHeaders(key, answer.headers);
    },
    async getObject(bucket, key, opts = {}) {
      const range = typeof opts.range === 'object' ? formatRangeHeader(opts.range) : opts.range;
      const answer = await send({
        method: 'GET',
        path: withQuery(objectPath(bucket, key), { filter: opts.filter }),
        headers: range ? { range } : undefined,
        signal: opts.signal,
        followRedirects: true,
      });
      try {
        const metadata = metadataFromHeaders(key, answer.headers);
        const served = answer.status === 206 ? contentRange(answer.headers) : undefined;
        return { metadata, body: answer.body, status: answer.status, range: served };
      } catch (error) {
        answer.body.destroy();
        throw error;
      }
    },
    async putObject(bucket, key, body, opts = {}) {
      const put = await preparePutBody(key, body, opts);
      try {
        await drain({
          method: 'PUT',
          path: objectPath(bucket, key),
          headers: put.headers,
          body: put.stream,
          signal: opts.signal,
        });
      } finally {
        put.close();
      }
    },
    async copyObject(bucket, sourceKey, destinationKey, opts = {}) {
      const form = encodeMultipartFields([['source_object_key', sourceKey]]);
      await drain({
        method: 'PUT',
        path: objectPath(bucket, destinationKey),
        headers: {
          'content-type': form.contentType,
          [HeaderNames.objectOperation]: COPY_OPERATION,
        },
        body: form.body,
        signal: opts.signal,
      });
    },
    deleteObject: (bucket, key, opts = {}) =>
      drain({ method: 'DELETE', path: objectPath(bucket, key), signal: opts.signal }),
  };
}

/** The P2P calls of the function to a daemon's piece server (lib/peer/p2p-client.ts's wire). */
export function createSeedPeerP2p(http: HttpCaller, timeouts: SeedPeerTimeouts): SeedPeerP2p {
  async function call(
    method: 'GET' | 'POST',
    url: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const answer = await http.call({
      ...timeouts,
      method,
      url: new URL(url),
      signal,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (answer.status >= 300) {
      const text = await readText(answer.body, MAX_ERROR_BODY_BYTES).catch(() => '');
      const { message, code } = parseErrorBody(text);
      throw new P2pHttpError(
        answer.status,
        code,
        `${method} ${new URL(url).pathname}: HTTP ${answer.status}${message ? ` ${message}` : ''}`,
      );
    }
    return JSON.parse(await readText(answer.body));
  }
  const origin = (pieces: string) => pieces.replace(/\/+$/, '');

  return {
    async keyChanged(pieces, change, signal) {
      const url = `${origin(pieces)}${P2P_PREFIX}/keys/changed`;
      return keyChangeResultSchema.parse(await call('POST', url, change, signal));
    },
    async currentVersion(pieces, bucket, key, signal) {
      const query = new URLSearchParams({ bucket, key });
      const url = `${origin(pieces)}${P2P_PREFIX}/keys/current?${query}`;
      try {
        return currentVersionSchema.parse(await call('GET', url, undefined, signal));
      } catch (error) {
        if (error instanceof P2pHttpError && error.status === 404) return undefined;
        throw error;
      }
    },
    async flushKey(pieces, bucket, key, signal) {
      await call('POST', `${origin(pieces)}${P2P_PREFIX}/keys/flush`, { bucket, key }, signal);
    },
    async importTask(pieces, taskId, request, signal) {
      await call('POST', `${origin(pieces)}${P2P_PREFIX}/tasks/${taskId}/import`, request, signal);
    },
  };
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function contentRange(headers: Record<string, string | string[] | undefined>) {
  const match = /^bytes (\d+)-(\d+)\//.exec(first(headers['content-range']) ?? '');
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  return { start, end, length: end - start + 1 };
}
