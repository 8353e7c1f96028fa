import type { PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

export interface MultipartUploadOptions {
  readonly partSize: number;
  /** Parts in flight; memory held is at most queueSize × partSize. */
  readonly queueSize: number;
  readonly signal?: AbortSignal;
}

/**
 * Streams a body of unknown or large size up with lib-storage's Upload (a single PutObject when
 * it fits in one part). Failed or aborted uploads are aborted server-side, leaving no parts.
 * Resolves with the ETag S3 returned, which RGW leaves empty for multipart uploads.
 * Errors are the SDK's: the caller translates them.
 */
export async function multipartUpload(
  client: S3Client,
  params: PutObjectCommandInput,
  options: MultipartUploadOptions,
): Promise<string | undefined> {
  const { signal } = options;
  signal?.throwIfAborted();
  const upload = new Upload({
    client,
    params,
    partSize: options.partSize,
    queueSize: options.queueSize,
    leavePartsOnError: false,
  });
  const abort = () => void upload.abort().catch(() => {});
  signal?.addEventListener('abort', abort, { once: true });
  try {
    return (await upload.done()).ETag;
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}
