import type { WriteMode } from '../core/write-mode.ts';

/**
 * Upload sessions: how an object too large for the host's inline limit (the object API
 * function) is written. The client uploads the parts straight to the backend through presigned
 * URLs; the host only opens, completes and aborts the backend's multipart upload, and tells the
 * cluster. Errors are the typed errors of lib/core/errors.ts.
 */
export interface UploadSessions {
  /** `POST /buckets/:bucket/uploads`. */
  create(bucket: string, request: CreateUploadRequest): Promise<UploadSession>;
  /** `POST /buckets/:bucket/uploads/:uploadId/complete`: the object exists once this resolves. */
  complete(
    bucket: string,
    uploadId: string,
    request: CompleteUploadRequest,
  ): Promise<CompletedUpload>;
  /** `DELETE /buckets/:bucket/uploads/:uploadId?key=`: drops the uploaded parts. */
  abort(bucket: string, uploadId: string, key: string): Promise<void>;
}

export interface CreateUploadRequest {
  readonly key: string;
  /** Exact size of the object in bytes. */
  readonly contentLength: number;
  /** `md5:<32 hex>` of the whole object, stored as the backend's `digest` metadata. */
  readonly digest: string;
  readonly contentType?: string;
  readonly mode?: WriteMode;
  /** Seed peers that import the object once it is complete; absent = the host's default. */
  readonly maxReplicas?: number;
}

export interface UploadSession {
  /** Opaque; names the session in complete and abort. */
  readonly uploadId: string;
  /** Every part but the last is exactly this size. */
  readonly partSize: number;
  /** `PUT` each part's bytes to its URL; the answer's `ETag` header goes into complete. */
  readonly parts: readonly UploadPartUrl[];
  /** When the part URLs stop working (ISO 8601). */
  readonly expiresAt: string;
}

export interface UploadPartUrl {
  readonly partNumber: number;
  readonly url: string;
}

export interface CompleteUploadRequest {
  readonly key: string;
  /** Every part, ascending by partNumber, with the ETag its upload answered. */
  readonly parts: readonly { readonly partNumber: number; readonly etag: string }[];
}

export interface CompletedUpload {
  readonly etag: string;
}
