import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import type { ObjectMetadata } from '../backends/object-backend.ts';
import { MAX_LIST_LIMIT } from '../backends/object-backend.ts';
import { COPY_OPERATION, HeaderNames } from '../core/headers.ts';
import { formatRangeHeader, type RangeSpec } from '../core/range.ts';
import { parseEndpoint } from './endpoint.ts';
import { DfstoreHttpError, DfstoreNotFoundError } from './errors.ts';
import {
  type ListObjectsPage,
  metadataFromHeaders,
  parseListPage,
  parseServiceMetadata,
  type ServiceMetadata,
} from './metadata.ts';
import { encodeMultipartFields } from './multipart-encoder.ts';
import { bucketPath, metadatasPath, objectPath, withQuery } from './object-path.ts';
import { type PutObjectOptions, preparePutBody } from './put-body.ts';
import { createSigV4Signer, type SigV4Options } from './sigv4.ts';
import { createTransport, header } from './transport.ts';
import { uploadFileInSession } from './upload-session.ts';

export interface DfstoreClientOptions {
  /** `http(s)://[user:token@]host:port`; userinfo becomes HTTP Basic auth. */
  readonly endpoint: string;
  /** PEM file of an extra CA to trust for https (the system roots stay trusted). */
  readonly caFile?: string;
  /** PEM text of an extra CA (alternative to caFile). */
  readonly ca?: string | Buffer;
  /** Extra headers for every request to the endpoint (never sent to a redirect target). */
  readonly headers?: Record<string, string>;
  /** Transport override (an undici Agent, Pool or MockAgent); owned by the caller. */
  readonly dispatcher?: Dispatcher;
  /** Wait for response headers; generous by default: WriteBack PUTs ack after the backend write. */
  readonly headersTimeoutMs?: number;
  /** Longest pause between body chunks. */
  readonly bodyTimeoutMs?: number;
  /** Sockets per origin (default: unlimited, one per concurrent request). */
  readonly connections?: number;
  /** Sign every request with AWS SigV4 (an object API function URL with AWS_IAM auth). */
  readonly sigv4?: SigV4Options | boolean;
}

export interface ListOptions {
  readonly prefix?: string;
  /** List after this key (exclusive). */
  readonly marker?: string;
  readonly delimiter?: string;
  /** Entries per page, 1..1000 (the server's default and maximum is 1000). */
  readonly limit?: number;
  readonly signal?: AbortSignal;
}

export interface GetObjectOptions {
  /** One range: a spec, or a raw `bytes=…` header value. */
  readonly range?: RangeSpec | string;
  /** Overrides the daemon's task-ID filter for this request. */
  readonly filter?: string;
  readonly signal?: AbortSignal;
}

export interface GetObjectResponse {
  /** Metadata of the whole object (contentLength is its full size, also for a 206). */
  readonly metadata: ObjectMetadata;
  /** The bytes: the object, or the requested range. Consume or destroy it. */
  readonly body: Readable;
  /** 200, or 206 for a range. */
  readonly status: number;
  /** The range served, from Content-Range (206 only). */
  readonly range?: { readonly start: number; readonly end: number; readonly length: number };
}

export type { PutObjectOptions } from './put-body.ts';

export interface RequestOptions {
  readonly signal?: AbortSignal;
}

/**
 * Typed client of the dfstore HTTP API (PROTOCOL.md §2). Every method throws DfstoreHttpError
 * (DfstoreNotFoundError for 404, DfstoreUnauthorizedError/DfstoreForbiddenError for 401/403) on a
 * non-2xx answer, and undici's errors for connection failures. Bodies stream both ways.
 */
export interface DfstoreClient {
  /** The endpoint with credentials masked, for messages. */
  readonly endpoint: string;
  /** True when `GET /healthy` answers 2xx, false on any other status; throws if unreachable. */
  healthy(options?: RequestOptions): Promise<boolean>;
  metadata(options?: RequestOptions): Promise<ServiceMetadata>;
  createBucket(bucket: string, options?: RequestOptions): Promise<void>;
  /** One page of objects and common prefixes. */
  listObjects(bucket: string, options?: ListOptions): Promise<ListObjectsPage>;
  /** Every page, following the marker until a short page (`marker` in options is the start). */
  listAllObjects(bucket: string, options?: ListOptions): AsyncGenerator<ListObjectsPage>;
  headObject(bucket: string, key: string, options?: RequestOptions): Promise<ObjectMetadata>;
  objectExists(bucket: string, key: string, options?: RequestOptions): Promise<boolean>;
  getObject(bucket: string, key: string, options?: GetObjectOptions): Promise<GetObjectResponse>;
  /** Uploads a stream or the file at a path, as multipart/form-data encoded on the fly. */
  putObject(
    bucket: string,
    key: string,
    body: Readable | string,
    options?: PutObjectOptions,
  ): Promise<void>;
  /** Server-side copy within one bucket. */
  copyObject(
    bucket: string,
    sourceKey: string,
    destinationKey: string,
    options?: RequestOptions,
  ): Promise<void>;
  /** Succeeds also for a missing key (the server answers 200). */
  deleteObject(bucket: string, key: string, options?: RequestOptions): Promise<void>;
  /** Closes the client's own connection pool once requests in flight end (not an injected one). */
  close(): Promise<void>;
  /** Closes the client's own connection pool at once, failing requests in flight. */
  destroy(): Promise<void>;
}

export function createDfstoreClient(options: DfstoreClientOptions): DfstoreClient {
  const endpoint = parseEndpoint(options.endpoint);
  const { dispatcher, owned: ownAgent } = pickDispatcher(options);
  const send = createTransport({
    endpoint,
    dispatcher,
    headers: options.headers,
    headersTimeout: options.headersTimeoutMs ?? 30 * 60_000,
    bodyTimeout: options.bodyTimeoutMs ?? 5 * 60_000,
    sign: options.sigv4
      ? createSigV4Signer(new URL(endpoint.origin), options.sigv4 === true ? {} : options.sigv4)
      : undefined,
  });
  const drain = async (request: Parameters<typeof send>[0]): Promise<void> => {
    const response = await send(request);
    await response.body.dump();
  };
  const json = async (request: Parameters<typeof send>[0]): Promise<unknown> =>
    (await send(request)).body.json();
  // An object API function announces its inline limit in /metadata; a daemon has none.
  let inlineLimit: Promise<number | undefined> | undefined;
  const overInlineLimit = async (path: string): Promise<boolean> => {
    inlineLimit ??= client.metadata().then(
      (metadata) => metadata.inlineLimit,
      () => undefined,
    );
    const limit = await inlineLimit;
    return limit !== undefined && (await stat(path)).size > limit;
  };

  const client: DfstoreClient = {
    endpoint: endpoint.display,

    async healthy(opts = {}) {
      try {
        await drain({ method: 'GET', path: '/healthy', signal: opts.signal });
        return true;
      } catch (error) {
        if (error instanceof DfstoreHttpError) return false;
        throw error;
      }
    },

    async metadata(opts = {}) {
      return parseServiceMetadata(
        await json({ method: 'GET', path: '/metadata', signal: opts.signal }),
      );
    },

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

    async *listAllObjects(bucket, opts = {}) {
      const limit = Math.min(opts.limit ?? MAX_LIST_LIMIT, MAX_LIST_LIMIT);
      let marker = opts.marker;
      for (;;) {
        const page = await client.listObjects(bucket, { ...opts, marker, limit });
        yield page;
        // The API has no IsTruncated: a full page may have more after it.
        const entries = page.objects.length + page.commonPrefixes.length;
        const next = lastEntry(page);
        if (entries < limit || next === undefined || next === marker) return;
        marker = next;
      }
    },

    async headObject(bucket, key, opts = {}) {
      const response = await send({
        method: 'HEAD',
        path: objectPath(bucket, key),
        signal: opts.signal,
        followRedirects: true,
      });
      await response.body.dump();
      return metadataFromHeaders(key, response.headers);
    },

    async objectExists(bucket, key, opts = {}) {
      try {
        await client.headObject(bucket, key, opts);
        return true;
      } catch (error) {
        if (error instanceof DfstoreNotFoundError) return false;
        throw error;
      }
    },

    async getObject(bucket, key, opts = {}) {
      const range = typeof opts.range === 'object' ? formatRangeHeader(opts.range) : opts.range;
      const response = await send({
        method: 'GET',
        path: withQuery(objectPath(bucket, key), { filter: opts.filter }),
        headers: range ? { range } : undefined,
        signal: opts.signal,
        followRedirects: true,
      });
      let metadata: ObjectMetadata;
      try {
        metadata = metadataFromHeaders(key, response.headers);
      } catch (error) {
        response.body.destroy();
        throw error;
      }
      return {
        metadata,
        body: response.body,
        status: response.status,
        range: response.status === 206 ? parseContentRange(response.headers) : undefined,
      };
    },

    async putObject(bucket, key, body, opts = {}) {
      if (typeof body === 'string' && (await overInlineLimit(body))) {
        return uploadFileInSession({ send, dispatcher }, bucket, key, body, opts);
      }
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

    close: async () => {
      await ownAgent?.close();
    },
    destroy: async () => {
      await ownAgent?.destroy();
    },
  };
  return client;
}

/** The greatest key or prefix of a page, in the servers' byte-wise (UTF-8) order. */
function lastEntry(page: ListObjectsPage): string | undefined {
  const candidates = [page.objects.at(-1)?.key, page.commonPrefixes.at(-1)].filter(
    (value): value is string => value !== undefined,
  );
  return candidates.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).at(-1);
}

function parseContentRange(headers: Record<string, string | string[] | undefined>) {
  const match = /^bytes (\d+)-(\d+)\//.exec(header(headers, 'content-range') ?? '');
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  return { start, end, length: end - start + 1 };
}

/** The injected dispatcher, or an Agent of our own (closed by close()/destroy()). */
function pickDispatcher(options: DfstoreClientOptions): { dispatcher: Dispatcher; owned?: Agent } {
  if (options.dispatcher) return { dispatcher: options.dispatcher };
  const ca = options.ca ?? (options.caFile ? readFileSync(options.caFile) : undefined);
  const agent = new Agent({
    connections: options.connections,
    // The extra CA joins the system roots: a 307 may lead to a public S3 endpoint.
    connect: ca ? { ca: [...rootCertificates, ca.toString()] } : undefined,
  });
  return { dispatcher: agent, owned: agent };
}
