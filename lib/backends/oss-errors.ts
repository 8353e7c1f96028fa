import {
  BackendAuthError,
  BackendError,
  BucketNotFoundError,
  ConflictError,
  DfstoreError,
  ObjectNotFoundError,
  RangeNotSatisfiableError,
  ValidationError,
} from '../core/errors.ts';
import { UploadNotFoundError } from './object-backend.ts';

/** What ali-oss puts on its errors: the OSS code (parsed from the XML body) and HTTP status. */
interface AliOssError {
  readonly code?: unknown;
  readonly status?: unknown;
  readonly name?: unknown;
  params?: unknown;
  res?: { headers?: Record<string, unknown> };
}

/** OSS codes meaning our credentials or signature were refused. */
const AUTH_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'RequestTimeTooSkewed',
  'InvalidSecurityToken',
  'SecurityTokenExpired',
]);

/** Why OSS refuses a CompleteMultipartUpload's part list: the caller's mistake. */
const PART_LIST_CODES = new Map([
  ['InvalidPart', 'a part is missing or its ETag does not match'],
  ['InvalidPartOrder', 'parts are not in ascending order'],
  ['EntityTooSmall', 'a part other than the last is below the minimum part size'],
  ['MalformedXML', 'the part list is malformed'],
]);

/**
 * Turns an ali-oss failure into the port's errors. `key` is set for object operations, so a bare
 * 404 (ali-oss reports every bodiless 404 as NoSuchKey) means the object; without it, the bucket.
 * The vendor error stays as `cause`, minus the request parameters ali-oss attaches (they hold the
 * Authorization header); messages name the code and status only, never URLs or signatures.
 * `uploadId` is set for the calls of a multipart session.
 */
export function translateOssError(
  error: unknown,
  bucket: string,
  key?: string,
  uploadId?: string,
): DfstoreError {
  if (error instanceof DfstoreError) return error;
  const vendor = (typeof error === 'object' && error !== null ? error : {}) as AliOssError;
  if ('params' in vendor) delete vendor.params;
  const code = typeof vendor.code === 'string' ? vendor.code : undefined;
  const status = typeof vendor.status === 'number' ? vendor.status : undefined;
  const options = { cause: error };

  if (code === 'NoSuchBucket') return new BucketNotFoundError(bucket, options);
  if (code === 'NoSuchUpload') return new UploadNotFoundError(uploadId ?? '', options);
  const partListProblem = code === undefined ? undefined : PART_LIST_CODES.get(code);
  if (partListProblem !== undefined) {
    return new ValidationError(`OSS refused the part list: ${partListProblem} (${code})`, options);
  }
  if (code === 'NoSuchKey' || (code === undefined && status === 404)) {
    return key === undefined
      ? new BucketNotFoundError(bucket, options)
      : new ObjectNotFoundError(bucket, key, options);
  }
  if (code === 'InvalidRange' || status === 416) {
    return new RangeNotSatisfiableError('range not satisfiable', sizeFromContentRange(vendor));
  }
  if ((code !== undefined && AUTH_CODES.has(code)) || status === 403) {
    return new BackendAuthError(`OSS refused the credentials: ${code ?? 'HTTP 403'}`, options);
  }
  if (code === 'BucketAlreadyExists' || code === 'BucketNotEmpty') {
    return new ConflictError(`OSS ${code} (bucket ${bucket})`, options);
  }
  const what = code ?? (typeof vendor.name === 'string' ? vendor.name : 'error');
  return new BackendError(
    `OSS request failed: ${what}${status ? ` (HTTP ${status})` : ''}`,
    options,
  );
}

/** The object size from a 416 answer's `Content-Range: bytes *\/size`, when the server sent it. */
function sizeFromContentRange(vendor: AliOssError): number | undefined {
  const value = vendor.res?.headers?.['content-range'];
  const match = typeof value === 'string' ? /\/(\d+)$/.exec(value) : null;
  return match ? Number(match[1]) : undefined;
}
