import type OSS from 'ali-oss';
import { checkCompletedParts, checkExpiresInSeconds, checkPartNumber } from './multipart.ts';
import { type ObjectBackend, UploadNotFoundError } from './object-backend.ts';
import { objectHeaders, type ResponseHeaders } from './oss-client.ts';
import { translateOssError } from './oss-errors.ts';

type MultipartSessions = Pick<
  ObjectBackend,
  'createMultipartUpload' | 'presignUploadPart' | 'completeMultipartUpload' | 'abortMultipartUpload'
>;

/**
 * The multipart session methods of the OSS adapter (see the port). `on(bucket)` is the adapter's
 * per-bucket view of the shared ali-oss client. Part URLs are V1 presigned with the `partNumber`
 * and `uploadId` sub-resources, which OSS includes in what it signs.
 */
export function ossMultipartSessions(on: (bucket: string) => OSS, timeout: number) {
  async function call<T>(bucket: string, key: string, uploadId: string, run: () => Promise<T>) {
    try {
      return await run();
    } catch (error) {
      throw translateOssError(error, bucket, key, uploadId);
    }
  }

  const sessions: MultipartSessions = {
    async createMultipartUpload(bucket, key, options = {}) {
      const headers = objectHeaders(options);
      const { uploadId } = await call(bucket, key, '', () =>
        on(bucket).initMultipartUpload(key, { headers, timeout }),
      );
      return { uploadId };
    },

    async presignUploadPart(bucket, key, uploadId, partNumber, options) {
      checkPartNumber(partNumber);
      checkExpiresInSeconds(options.expiresInSeconds);
      return call(bucket, key, uploadId, async () =>
        on(bucket).signatureUrl(key, {
          method: 'PUT',
          expires: options.expiresInSeconds,
          subResource: { partNumber, uploadId },
        }),
      );
    },

    async completeMultipartUpload(bucket, key, uploadId, parts) {
      checkCompletedParts(parts);
      const list = parts.map(({ partNumber, etag }) => ({ number: partNumber, etag }));
      const result = await call(bucket, key, uploadId, () =>
        on(bucket).completeMultipartUpload(key, uploadId, list, { timeout }),
      );
      return { etag: result.etag || ((result.res.headers as ResponseHeaders).etag ?? '') };
    },

    async abortMultipartUpload(bucket, key, uploadId) {
      try {
        await call(bucket, key, uploadId, () =>
          on(bucket).abortMultipartUpload(key, uploadId, { timeout }),
        );
      } catch (error) {
        // OSS forgets finished uploads: aborting twice, or after complete, is NoSuchUpload.
        if (!(error instanceof UploadNotFoundError)) throw error;
      }
    },
  };
  return sessions;
}
