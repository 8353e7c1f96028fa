import {
  BackendAuthError,
  BackendError,
  BucketNotFoundError,
  DfstoreError,
  ObjectNotFoundError,
  RangeNotSatisfiableError,
  ValidationError,
} from '../core/errors.ts';
import { UploadNotFoundError } from './object-backend.ts';

/** What an S3 call was about, for the translated error. */
export interface S3Target {
  readonly operation: string;
  readonly bucket: string;
  readonly key?: string;
  /** Set for the calls of a multipart session. */
  readonly uploadId?: string;
}

const AUTH_CODES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'RequestTimeTooSkewed',
]);

/** Why S3 refuses a CompleteMultipartUpload's part list: the caller's mistake, not the server's. */
const PART_LIST_CODES = new Map([
  ['InvalidPart', 'a part is missing or its ETag does not match'],
  ['InvalidPartOrder', 'parts are not in ascending order'],
  ['EntityTooSmall', 'a part other than the last is below the minimum part size'],
  ['MalformedXML', 'the part list is malformed'],
]);

/**
 * Turns an SDK (or network) error into the port's vocabulary. The message names the operation,
 * bucket, key and S3 error code only: SDK messages and requests may carry signatures or URLs, so
 * they stay in `cause`.
 */
export function translateS3Error(err: unknown, target: S3Target): DfstoreError {
  if (err instanceof DfstoreError) return err;
  const { code, status } = describeError(err);
  const options = { cause: err };
  const { bucket, key } = target;
  if (code === 'NoSuchBucket') return new BucketNotFoundError(bucket, options);
  if (code === 'NoSuchKey') return new ObjectNotFoundError(bucket, key ?? '', options);
  if (code === 'NoSuchUpload') return new UploadNotFoundError(target.uploadId ?? '', options);
  if (code === 'InvalidRange' || status === 416) {
    return new RangeNotSatisfiableError('range not satisfiable');
  }
  const what = `s3 ${target.operation} ${key === undefined ? bucket : `${bucket}/${key}`}`;
  const detail = `${code}${status ? ` (HTTP ${status})` : ''}`;
  const partListProblem = PART_LIST_CODES.get(code);
  if (partListProblem !== undefined) {
    return new ValidationError(`${what} was refused: ${partListProblem} (${code})`, options);
  }
  if (AUTH_CODES.has(code) || status === 401 || status === 403) {
    return new BackendAuthError(`${what} was refused: ${detail}`, options);
  }
  // HEAD answers carry no body and so no code: a bare 404 is about the key when there is one.
  if (status === 404) {
    return key === undefined
      ? new BucketNotFoundError(bucket, options)
      : new ObjectNotFoundError(bucket, key, options);
  }
  return new BackendError(`${what} failed: ${detail}`, options);
}

function describeError(err: unknown): { code: string; status?: number } {
  if (typeof err !== 'object' || err === null) return { code: 'UnknownError' };
  const e = err as {
    name?: unknown;
    code?: unknown;
    Code?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  const status =
    typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  // S3 error codes arrive as `Code` (or `name`); Node network errors as `code` (ECONNREFUSED).
  const code = [e.Code, e.code, e.name].find((c): c is string => typeof c === 'string' && c !== '');
  return { code: code ?? 'UnknownError', status };
}
