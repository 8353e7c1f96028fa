import { Readable } from 'node:stream';
import type {
  BucketLocationConstraint,
  ListObjectsV2CommandOutput,
  S3Client,
} from '@aws-sdk/client-s3';
import type { S3BackendConfig } from '../config/backend-config.ts';
import {
  BackendError,
  NotFoundError,
  RangeNotSatisfiableError,
  ValidationError,
} from '../core/errors.ts';
import { DIGEST_METADATA_KEY } from '../core/headers.ts';
import { formatRangeHeader } from '../core/range.ts';
import {
  type BucketInfo,
  type CompletedPart,
  type CreateMultipartUploadOptions,
  type GetObjectOptions,
  type GetObjectResult,
  type ListObjectsOptions,
  type ListObjectsResult,
  MAX_LIST_LIMIT,
  type MultipartUpload,
  type ObjectBackend,
  type ObjectMetadata,
  type PresignOptions,
  type PresignUploadPartOptions,
  type PutObjectOptions,
  type PutObjectResult,
} from './object-backend.ts';
import { type S3Target, translateS3Error } from './s3-errors.ts';
import {
  copySource,
  parseContentRange,
  quoteEtag,
  toListObjectsResult,
  toObjectMetadata,
} from './s3-mapping.ts';
import { MAX_PRESIGN_SECONDS, S3MultipartSessions } from './s3-multipart.ts';
import { createS3Client, loadS3Modules, type S3Sdk } from './s3-sdk.ts';
import { multipartUpload } from './s3-upload.ts';

export interface S3BackendDeps {
  /** A prebuilt client (tests); otherwise one is built from the config, once. */
  readonly client?: S3Client;
}

export function createS3Backend(config: S3BackendConfig, deps: S3BackendDeps = {}): ObjectBackend {
  return new S3Backend(config, deps.client);
}

/** The S3 adapter of the ObjectBackend port (see its contract). */
export class S3Backend implements ObjectBackend {
  readonly name = 's3' as const;
  readonly region: string;
  readonly endpoint: string;
  readonly #multipart: S3MultipartSessions;
  #sdk: Promise<S3Sdk> | undefined;

  /** The SDK loads on the first call (lib/backends/s3-sdk.ts), the client is built once. */
  constructor(
    private readonly config: S3BackendConfig,
    private readonly prebuilt?: S3Client,
  ) {
    this.#multipart = new S3MultipartSessions(() => this.sdk());
    this.region = config.region;
    this.endpoint = config.endpoint ?? `https://s3.${config.region}.amazonaws.com`;
  }

  async headObject(bucket: string, key: string): Promise<ObjectMetadata> {
    const { s3, client } = await this.sdk();
    const target = { operation: 'headObject', bucket, key };
    const out = await this.call(target, () =>
      client.send(new s3.HeadObjectCommand({ Bucket: bucket, Key: key })),
    );
    return toObjectMetadata(key, out, out.ContentLength ?? 0);
  }

  async getObject(
    bucket: string,
    key: string,
    options: GetObjectOptions = {},
  ): Promise<GetObjectResult> {
    const { s3, client } = await this.sdk();
    const { range, signal } = options;
    if (range && 'suffix' in range && range.suffix === 0) {
      // RGW serves `bytes=-0` as the whole object; RFC 9110 makes it unsatisfiable.
      const { contentLength } = await this.headObject(bucket, key);
      throw new RangeNotSatisfiableError('range not satisfiable', contentLength);
    }
    const command = new s3.GetObjectCommand({
      Bucket: bucket,
      Key: key,
      Range: range ? formatRangeHeader(range) : undefined,
    });
    const target = { operation: 'getObject', bucket, key, signal };
    const out = await this.call(target, () => client.send(command, { abortSignal: signal })).catch(
      async (err: unknown) => {
        // A 416 from S3 carries no Content-Range; the size lets callers answer `bytes */size`.
        if (!(err instanceof RangeNotSatisfiableError) || err.size !== undefined) throw err;
        const head = await this.headObject(bucket, key).catch(() => undefined);
        throw new RangeNotSatisfiableError(err.message, head?.contentLength);
      },
    );
    if (!(out.Body instanceof Readable)) {
      throw new BackendError(`s3 getObject ${bucket}/${key} returned no stream`);
    }
    const served = parseContentRange(out.ContentRange);
    const size = served?.size ?? out.ContentLength ?? 0;
    // A server that ignores Range sends the whole object: that is then the range served.
    const resolved =
      served?.range ?? (range ? { start: 0, end: size - 1, length: size } : undefined);
    return { metadata: toObjectMetadata(key, out, size), body: out.Body, range: resolved };
  }

  async putObject(
    bucket: string,
    key: string,
    body: Readable,
    options: PutObjectOptions = {},
  ): Promise<PutObjectResult> {
    const sdk = await this.sdk();
    const { s3, client } = sdk;
    const { contentLength, signal } = options;
    const target = { operation: 'putObject', bucket, key, signal };
    const params = {
      Bucket: bucket,
      Key: key,
      Body: body,
      ContentType: options.contentType,
      ContentDisposition: options.contentDisposition,
      ContentEncoding: options.contentEncoding,
      ContentLanguage: options.contentLanguage,
      Metadata: options.digest ? { [DIGEST_METADATA_KEY]: options.digest } : undefined,
    };
    const { multipartThreshold, partSize, queueSize } = this.config;
    try {
      const etag = await this.call(target, async () => {
        if (contentLength === undefined || contentLength >= multipartThreshold) {
          return multipartUpload(
            sdk,
            { ...params, ContentLength: contentLength },
            { partSize, queueSize, signal },
          );
        }
        const command = new s3.PutObjectCommand({ ...params, ContentLength: contentLength });
        return (await client.send(command, { abortSignal: signal })).ETag;
      });
      return { etag: await this.etagOf(bucket, key, etag) };
    } catch (err) {
      // A failed upload leaves the body half read; release what it holds (fds, sockets).
      body.destroy();
      throw err;
    }
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const { s3, client } = await this.sdk();
    // S3 answers 204 for a missing key: idempotent as the port wants.
    await this.call({ operation: 'deleteObject', bucket, key }, () =>
      client.send(new s3.DeleteObjectCommand({ Bucket: bucket, Key: key })),
    );
  }

  async copyObject(
    bucket: string,
    sourceKey: string,
    destinationKey: string,
  ): Promise<PutObjectResult> {
    const { s3, client } = await this.sdk();
    const command = new s3.CopyObjectCommand({
      Bucket: bucket,
      Key: destinationKey,
      CopySource: copySource(bucket, sourceKey),
      MetadataDirective: 'COPY',
    });
    const out = await this.call({ operation: 'copyObject', bucket, key: sourceKey }, () =>
      client.send(command),
    );
    return { etag: await this.etagOf(bucket, destinationKey, out.CopyObjectResult?.ETag) };
  }

  async listObjects(bucket: string, options: ListObjectsOptions = {}): Promise<ListObjectsResult> {
    const { s3, client } = await this.sdk();
    const target = { operation: 'listObjects', bucket };
    const limit = Math.min(
      Math.max(Math.trunc(options.limit ?? MAX_LIST_LIMIT), 1),
      MAX_LIST_LIMIT,
    );
    let out: ListObjectsV2CommandOutput;
    let token: string | undefined;
    // S3 may end a page early, even empty yet truncated; only an empty one needs following.
    do {
      const command = new s3.ListObjectsV2Command({
        Bucket: bucket,
        Prefix: options.prefix || undefined,
        StartAfter: token ? undefined : options.marker || undefined,
        ContinuationToken: token,
        Delimiter: options.delimiter || undefined,
        MaxKeys: limit,
      });
      out = await this.call(target, () => client.send(command));
      token = out.NextContinuationToken;
    } while (out.IsTruncated && token && !out.Contents?.length && !out.CommonPrefixes?.length);
    return toListObjectsResult(out);
  }

  async createBucket(bucket: string): Promise<void> {
    const { s3, client } = await this.sdk();
    const command = new s3.CreateBucketCommand({
      Bucket: bucket,
      // us-east-1 is the one region that takes no location constraint.
      CreateBucketConfiguration:
        this.region === 'us-east-1'
          ? undefined
          : { LocationConstraint: this.region as BucketLocationConstraint },
    });
    try {
      await client.send(command);
    } catch (err) {
      if ((err as { name?: unknown }).name === 'BucketAlreadyOwnedByYou') return;
      throw translateS3Error(err, { operation: 'createBucket', bucket });
    }
  }

  async bucketExists(bucket: string): Promise<boolean> {
    const { s3, client } = await this.sdk();
    try {
      await this.call({ operation: 'bucketExists', bucket }, () =>
        client.send(new s3.HeadBucketCommand({ Bucket: bucket })),
      );
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  async listBuckets(): Promise<BucketInfo[]> {
    const { s3, client } = await this.sdk();
    const buckets: BucketInfo[] = [];
    let token: string | undefined;
    do {
      const command = new s3.ListBucketsCommand({ ContinuationToken: token });
      const out = await this.call({ operation: 'listBuckets', bucket: '' }, () =>
        client.send(command),
      );
      for (const b of out.Buckets ?? []) {
        if (b.Name) buckets.push({ name: b.Name, createdAt: b.CreationDate });
      }
      token = out.ContinuationToken;
    } while (token);
    return buckets;
  }

  async deleteBucket(bucket: string): Promise<void> {
    const { s3, client } = await this.sdk();
    await this.call({ operation: 'deleteBucket', bucket }, () =>
      client.send(new s3.DeleteBucketCommand({ Bucket: bucket })),
    );
  }

  async presignUrl(bucket: string, key: string, options: PresignOptions): Promise<string> {
    const { method, expiresIn } = options;
    if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_PRESIGN_SECONDS) {
      throw new ValidationError(`expiresIn must be 1..${MAX_PRESIGN_SECONDS} seconds`);
    }
    const { s3, client, getSignedUrl } = await this.sdk();
    const input = { Bucket: bucket, Key: key };
    const command =
      method === 'GET' ? new s3.GetObjectCommand(input) : new s3.PutObjectCommand(input);
    return this.call({ operation: 'presignUrl', bucket, key }, () =>
      getSignedUrl(client, command, { expiresIn }),
    );
  }

  createMultipartUpload(
    bucket: string,
    key: string,
    options: CreateMultipartUploadOptions = {},
  ): Promise<MultipartUpload> {
    return this.#multipart.create(bucket, key, options);
  }

  presignUploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    options: PresignUploadPartOptions,
  ): Promise<string> {
    return this.#multipart.presignPart(bucket, key, uploadId, partNumber, options.expiresInSeconds);
  }

  async completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: readonly CompletedPart[],
  ): Promise<PutObjectResult> {
    const etag = await this.#multipart.complete(bucket, key, uploadId, parts);
    return { etag: await this.etagOf(bucket, key, etag) };
  }

  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    return this.#multipart.abort(bucket, key, uploadId);
  }

  private sdk(): Promise<S3Sdk> {
    this.#sdk ??= loadS3Modules().then(({ s3, getSignedUrl }) => ({
      s3,
      getSignedUrl,
      client: this.prebuilt ?? createS3Client(s3, this.config),
    }));
    return this.#sdk;
  }

  /** Runs SDK calls, translating their errors; an abort by the caller stays the caller's. */
  private async call<T>(
    target: S3Target & { readonly signal?: AbortSignal },
    fn: () => Promise<T>,
  ): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (target.signal?.aborted) throw target.signal.reason;
      throw translateS3Error(err, target);
    }
  }

  /** RGW answers CompleteMultipartUpload with an empty ETag; HeadObject has the real one. */
  private async etagOf(bucket: string, key: string, etag: string | undefined): Promise<string> {
    if (etag) return quoteEtag(etag);
    return (await this.headObject(bucket, key)).etag;
  }
}
