import { addAbortSignal, Readable } from 'node:stream';
import type OSS from 'ali-oss';
import type { OssBackendConfig } from '../config/backend-config.ts';
import {
  BackendError,
  BucketNotFoundError,
  ObjectNotFoundError,
  ValidationError,
} from '../core/errors.ts';
import { formatRangeHeader, type ResolvedRange } from '../core/range.ts';
import {
  type BucketInfo,
  type GetObjectOptions,
  type GetObjectResult,
  type ListObjectsOptions,
  type ListObjectsResult,
  MAX_LIST_LIMIT,
  type ObjectBackend,
  type PresignOptions,
  type PutObjectOptions,
  type PutObjectResult,
} from './object-backend.ts';
import {
  checkBucketName,
  createOssClient,
  decodeListed,
  inBucket,
  type ListBucketsPage,
  objectHeaders,
  type ResponseHeaders,
  toMetadata,
} from './oss-client.ts';
import { translateOssError } from './oss-errors.ts';
import { ossMultipartSessions } from './oss-multipart.ts';
import { uploadInParts } from './oss-upload.ts';
import { BufferPool, exactly, partSizeFor, pooledParts, prepend } from './part-pump.ts';

export interface OssBackendDeps {
  /** A ready ali-oss client (for tests); built once from the config when absent. */
  readonly client?: OSS;
}

/**
 * The `oss` adapter: Aliyun OSS through ali-oss. Bodies stream both ways; uploads of unknown
 * length or at least `multipartThreshold` bytes go up as multipart uploads in `partSize` parts,
 * `parallel` at a time (ali-oss's own multipartUpload needs a file or a whole Buffer).
 */
export function createOssBackend(
  config: OssBackendConfig,
  deps: OssBackendDeps = {},
): ObjectBackend {
  const client = deps.client ?? createOssClient(config);
  const timeout = config.timeoutMs;
  const on = (bucket: string) => inBucket(client, bucket);

  async function call<T>(bucket: string, key: string | undefined, run: () => Promise<T>) {
    try {
      return await run();
    } catch (error) {
      throw translateOssError(error, bucket, key);
    }
  }

  async function bucketExists(bucket: string): Promise<boolean> {
    checkBucketName(bucket);
    try {
      await client.getBucketInfo(bucket);
      return true;
    } catch (error) {
      const translated = translateOssError(error, bucket);
      if (translated instanceof BucketNotFoundError) return false;
      throw translated;
    }
  }

  async function getObject(
    bucket: string,
    key: string,
    options: GetObjectOptions = {},
  ): Promise<GetObjectResult> {
    const { range, signal } = options;
    const headers = range
      ? { Range: formatRangeHeader(range), 'x-oss-range-behavior': 'standard' }
      : {};
    let result: OSS.GetStreamResult;
    try {
      result = await on(bucket).getStream(key, { timeout, headers });
    } catch (error) {
      const translated = translateOssError(error, bucket, key);
      // ali-oss reports every 404 of a streamed GET as NoSuchKey (it discards the body).
      if (translated instanceof ObjectNotFoundError && !(await bucketExists(bucket))) {
        throw new BucketNotFoundError(bucket, { cause: error });
      }
      throw translated;
    }
    const body = result.stream as Readable;
    const responseHeaders = result.res.headers as ResponseHeaders;
    let resolved: ResolvedRange | undefined;
    let size = Number(responseHeaders['content-length']);
    if (range) {
      const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(responseHeaders['content-range'] ?? '');
      if (result.res.status !== 206 || !match) {
        body.destroy();
        throw new BackendError(`OSS did not answer a ranged GET with 206 (${result.res.status})`);
      }
      const start = Number(match[1]);
      const end = Number(match[2]);
      size = Number(match[3]);
      resolved = { start, end, length: end - start + 1 };
    }
    if (signal) addAbortSignal(signal, body);
    return { metadata: toMetadata(key, responseHeaders, size), body, range: resolved };
  }

  async function putObject(
    bucket: string,
    key: string,
    body: Readable,
    options: PutObjectOptions = {},
  ): Promise<PutObjectResult> {
    const { contentLength, signal } = options;
    const headers = objectHeaders(options);
    let mismatch: ValidationError | undefined;
    if (signal) addAbortSignal(signal, body);
    const source =
      contentLength === undefined
        ? body
        : exactly(body, contentLength, (error) => {
            mismatch = error;
          });
    try {
      const bucketClient = on(bucket);
      if (contentLength !== undefined && contentLength < config.multipartThreshold) {
        const streamOptions: Partial<OSS.PutStreamOptions> = { contentLength, headers, timeout };
        const { res } = await bucketClient.putStream(
          key,
          Readable.from(source),
          streamOptions as OSS.PutStreamOptions,
        );
        return { etag: (res.headers as ResponseHeaders).etag ?? '' };
      }
      const partSize = partSizeFor(contentLength, config.partSize);
      const pool = new BufferPool(partSize, config.parallel + 1);
      const parts = pooledParts(source, pool, partSize)[Symbol.asyncIterator]();
      const first = await parts.next();
      if (contentLength === undefined && (first.done || first.value.length < partSize)) {
        // The whole body fitted in one part: one PutObject (with its Content-MD5) will do.
        const content = first.done ? Buffer.alloc(0) : first.value;
        const { res } = await bucketClient.put(key, content, {
          headers,
          timeout,
        } as OSS.PutObjectOptions);
        return { etag: (res.headers as ResponseHeaders).etag ?? '' };
      }
      const etag = await uploadInParts(bucketClient, key, prepend(first, parts), {
        partSize,
        parallel: config.parallel,
        pool,
        timeout,
        signal,
        init: { headers },
      });
      return { etag };
    } catch (error) {
      if (mismatch) throw mismatch;
      if (signal?.aborted) throw signal.reason;
      throw translateOssError(error, bucket);
    }
  }

  return {
    name: 'oss',
    region: config.region,
    endpoint: config.endpoint,

    async headObject(bucket, key) {
      const { res } = await call(bucket, key, () => on(bucket).head(key, { timeout }));
      const headers = res.headers as ResponseHeaders;
      return toMetadata(key, headers, Number(headers['content-length']));
    },

    getObject,
    putObject,

    async deleteObject(bucket, key) {
      await call(bucket, key, () => on(bucket).delete(key, { timeout }));
    },

    async copyObject(bucket, sourceKey, destinationKey) {
      // The source bucket as third argument keeps ali-oss from parsing a leading '/' in the key.
      const { data } = await call(bucket, sourceKey, () =>
        on(bucket).copy(destinationKey, sourceKey, bucket, { timeout }),
      );
      return { etag: data.etag };
    },

    async listObjects(bucket, options: ListObjectsOptions = {}): Promise<ListObjectsResult> {
      const limit = options.limit ?? MAX_LIST_LIMIT;
      if (!Number.isInteger(limit) || limit < 1) {
        throw new ValidationError(`list limit must be an integer from 1 to ${MAX_LIST_LIMIT}`);
      }
      // encoding-type=url: keys may hold characters that XML 1.0 cannot carry.
      const query: OSS.ListObjectsQuery = {
        'max-keys': Math.min(limit, MAX_LIST_LIMIT),
        'encoding-type': 'url',
      };
      if (options.prefix) query.prefix = options.prefix;
      if (options.marker) query.marker = options.marker;
      if (options.delimiter) query.delimiter = options.delimiter;
      const page = await call(bucket, undefined, () => on(bucket).list(query, { timeout }));
      return {
        objects: (page.objects ?? []).map((object) => ({
          key: decodeListed(object.name),
          contentLength: object.size,
          etag: object.etag,
          lastModified: new Date(object.lastModified),
          storageClass: object.storageClass,
        })),
        commonPrefixes: (page.prefixes ?? []).map(decodeListed),
        isTruncated: page.isTruncated,
        nextMarker: page.isTruncated && page.nextMarker ? decodeListed(page.nextMarker) : undefined,
      };
    },

    async createBucket(bucket) {
      checkBucketName(bucket, true);
      await call(bucket, undefined, () =>
        client.putBucket(bucket, { timeout } as OSS.PutBucketOptions),
      );
    },

    bucketExists,

    async listBuckets(): Promise<BucketInfo[]> {
      const buckets: BucketInfo[] = [];
      let marker: string | undefined;
      do {
        const query = { 'max-keys': MAX_LIST_LIMIT, ...(marker ? { marker } : {}) };
        const page = (await call('', undefined, () =>
          client.listBuckets(query, { timeout }),
        )) as unknown as ListBucketsPage;
        for (const bucket of page.buckets ?? []) {
          buckets.push({ name: bucket.name, createdAt: new Date(bucket.creationDate) });
        }
        marker = page.isTruncated ? (page.nextMarker ?? undefined) : undefined;
      } while (marker);
      return buckets;
    },

    async deleteBucket(bucket) {
      checkBucketName(bucket);
      await call(bucket, undefined, () => client.deleteBucket(bucket, { timeout }));
    },

    /** A presigned PUT is signed without Content-Type: the uploader must send none. */
    async presignUrl(bucket, key, options: PresignOptions) {
      if (!Number.isInteger(options.expiresIn) || options.expiresIn < 1) {
        throw new ValidationError('expiresIn must be a positive integer number of seconds');
      }
      return call(bucket, key, async () =>
        on(bucket).signatureUrl(key, { method: options.method, expires: options.expiresIn }),
      );
    },

    ...ossMultipartSessions(on, timeout),
  };
}
