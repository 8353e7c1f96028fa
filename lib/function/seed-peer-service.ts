import { STATUS_CODES } from 'node:http';
import type { ObjectService } from '../api/object-service.ts';
import { DfstoreHttpError } from '../client/errors.ts';
import { DfstoreError } from '../core/errors.ts';
import { HTTP_TIMEOUT_CODES } from './http-caller.ts';
import type { SeedPeerObjectApi } from './seed-peer-client.ts';

/**
 * An answer of a seed peer's object API relayed to our client: same status, same `code` and
 * message (the seed peer already chose what a client may see, e.g. why a WriteBack failed).
 */
export class SeedPeerAnswerError extends DfstoreError {
  override readonly name = 'SeedPeerAnswerError';
  override readonly code: string;
  override readonly statusCode: number;
  constructor(status: number, code: string | undefined, message: string | undefined) {
    super(message || STATUS_CODES[status] || 'Error');
    this.statusCode = status;
    // A HEAD answer has no body, so no code: the client made one up from the status.
    const known = code !== undefined && !code.startsWith('ERR_HTTP_');
    this.code = known ? code : status === 404 ? 'ERR_NOT_FOUND' : `ERR_HTTP_${status}`;
  }
  override get exposeMessage(): boolean {
    return true;
  }
}

/** Connection-level failures: the seed peer did not take the request, another one may. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  HTTP_TIMEOUT_CODES.connect,
  HTTP_TIMEOUT_CODES.headers,
]);

/**
 * Whether a call failed because the seed peer could not be reached (or answered 503, shutting
 * down): the request may go to the next seed peer in rank. Any other answer is the answer.
 */
export function isUnreachable(error: unknown): boolean {
  if (error instanceof SeedPeerAnswerError) return error.statusCode === 503;
  if (error instanceof DfstoreError) return false;
  for (let e: unknown = error, depth = 0; e && depth < 4; depth++) {
    const { code, errors, cause } = e as { code?: unknown; errors?: unknown; cause?: unknown };
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
    if (Array.isArray(errors) && errors.some((inner) => isUnreachable(inner))) return true;
    e = cause;
  }
  return false;
}

/**
 * The ObjectService of a seed peer's dfstore object API (seed-peer-client.ts): writes are
 * forwarded with the client's mode, filter and maxReplicas, so the seed peer owns durability
 * (journal, backend, replicas). Error answers become SeedPeerAnswerError; transport failures
 * stay as they are (see isUnreachable).
 */
export function createSeedPeerObjectService(
  client: SeedPeerObjectApi,
): Omit<ObjectService, 'metadata'> {
  return {
    createBucket: (bucket) => relay(client.createBucket(bucket)),
    listObjects: (bucket, options) =>
      relay(
        client.listObjects(bucket, options).then((page) => ({
          objects: page.objects,
          commonPrefixes: page.commonPrefixes,
          isTruncated: page.objects.length + page.commonPrefixes.length >= (options.limit ?? 1000),
        })),
      ),
    headObject: (bucket, key) => relay(client.headObject(bucket, key)),
    async getObject(bucket, key, options) {
      const got = await relay(
        client.getObject(bucket, key, {
          range: options.range,
          filter: options.filter,
          signal: options.signal,
        }),
      );
      return { metadata: got.metadata, body: got.body, range: got.range };
    },
    async putObject(bucket, key, upload) {
      const form = await upload.form();
      await relay(
        client.putObject(bucket, key, upload.body, {
          mode: form.mode,
          filter: form.filter,
          maxReplicas: form.maxReplicas,
        }),
      );
    },
    copyObject: (bucket, source, destination) =>
      relay(client.copyObject(bucket, source, destination)),
    deleteObject: (bucket, key) => relay(client.deleteObject(bucket, key)),
  };
}

async function relay<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof DfstoreHttpError) {
      throw new SeedPeerAnswerError(error.status, error.code, error.serverMessage);
    }
    throw error;
  }
}
