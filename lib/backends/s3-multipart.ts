import { BackendError, ObjectNotFoundError } from '../core/errors.ts';
import { DIGEST_METADATA_KEY } from '../core/headers.ts';
import { checkCompletedParts, checkExpiresInSeconds, checkPartNumber } from './multipart.ts';
import {
  type CompletedPart,
  type CreateMultipartUploadOptions,
  type MultipartUpload,
  UploadNotFoundError,
} from './object-backend.ts';
import { type S3Target, translateS3Error } from './s3-errors.ts';
import type { S3Sdk } from './s3-sdk.ts';

/** SigV4 presigned URLs live at most 7 days. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/**
 * The multipart session half of the S3 adapter (see the port): the client uploads the parts
 * through presigned UploadPart URLs, so only create, complete and abort are calls of ours.
 * Errors leave translated (NoSuchUpload → UploadNotFoundError, a refused part list →
 * ValidationError).
 */
export class S3MultipartSessions {
  /** `sdk` loads the SDK on first use (lib/backends/s3-sdk.ts). */
  constructor(private readonly sdk: () => Promise<S3Sdk>) {}

  async create(
    bucket: string,
    key: string,
    options: CreateMultipartUploadOptions,
  ): Promise<MultipartUpload> {
    const { s3, client } = await this.sdk();
    const command = new s3.CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      ContentType: options.contentType,
      Metadata: options.digest ? { [DIGEST_METADATA_KEY]: options.digest } : undefined,
    });
    const out = await call({ operation: 'createMultipartUpload', bucket, key }, () =>
      client.send(command),
    );
    if (!out.UploadId) {
      throw new BackendError(`s3 createMultipartUpload ${bucket}/${key} returned no upload id`);
    }
    return { uploadId: out.UploadId };
  }

  async presignPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    expiresIn: number,
  ): Promise<string> {
    checkPartNumber(partNumber);
    checkExpiresInSeconds(expiresIn, MAX_PRESIGN_SECONDS);
    const { s3, client, getSignedUrl } = await this.sdk();
    const input = { Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber };
    return call({ operation: 'presignUploadPart', bucket, key, uploadId }, () =>
      getSignedUrl(client, new s3.UploadPartCommand(input), { expiresIn }),
    );
  }

  /** Resolves with the ETag S3 answered, which RGW leaves empty (the caller heads the object). */
  async complete(
    bucket: string,
    key: string,
    uploadId: string,
    parts: readonly CompletedPart[],
  ): Promise<string | undefined> {
    checkCompletedParts(parts);
    const { s3, client } = await this.sdk();
    const command = new s3.CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId: uploadId,
      MultipartUpload: {
        Parts: parts.map(({ partNumber, etag }) => ({ PartNumber: partNumber, ETag: etag })),
      },
    });
    try {
      return (await client.send(command)).ETag;
    } catch (err) {
      // Ceph RGW (before ceph/ceph#68186, tracker 75534) answers an unknown upload with 500
      // InternalError instead of 404 NoSuchUpload: ask ListParts which of the two it was.
      if (statusOf(err) >= 500 && !(await this.exists(bucket, key, uploadId))) {
        throw new UploadNotFoundError(uploadId, { cause: err });
      }
      throw translateS3Error(err, { operation: 'completeMultipartUpload', bucket, key, uploadId });
    }
  }

  async abort(bucket: string, key: string, uploadId: string): Promise<void> {
    const { s3, client } = await this.sdk();
    const command = new s3.AbortMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId: uploadId,
    });
    try {
      await call({ operation: 'abortMultipartUpload', bucket, key, uploadId }, () =>
        client.send(command),
      );
    } catch (err) {
      // S3 forgets finished uploads: aborting twice, or after complete, is NoSuchUpload.
      if (!(err instanceof UploadNotFoundError)) throw err;
    }
  }

  /**
   * False only when ListParts finds no such upload (S3: NoSuchUpload; RGW Pacific: 404
   * NoSuchKey); any other answer counts as "may exist".
   */
  private async exists(bucket: string, key: string, uploadId: string): Promise<boolean> {
    const { s3, client } = await this.sdk();
    const command = new s3.ListPartsCommand({
      Bucket: bucket,
      Key: key,
      UploadId: uploadId,
      MaxParts: 1,
    });
    try {
      await call({ operation: 'listParts', bucket, key, uploadId }, () => client.send(command));
      return true;
    } catch (err) {
      return !(err instanceof UploadNotFoundError || err instanceof ObjectNotFoundError);
    }
  }
}

function statusOf(err: unknown): number {
  const status = (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata
    ?.httpStatusCode;
  return typeof status === 'number' ? status : 0;
}

async function call<T>(target: S3Target, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translateS3Error(err, target);
  }
}
