/**
 * Typed errors shared by every layer. Each has a stable `code` (sent to clients in the JSON error
 * body) and the HTTP `statusCode` it maps to. They are turned into HTTP in exactly one place
 * (the API error handler). `name` is a literal so that minified bundles keep it.
 */
export class DfstoreError extends Error {
  override readonly name: string = 'DfstoreError';
  readonly code: string = 'ERR_INTERNAL';
  readonly statusCode: number = 500;
  /** Whether the message may be shown to clients (4xx: yes; 5xx: a generic message is shown). */
  get exposeMessage(): boolean {
    return this.statusCode < 500;
  }
}

/** A request or argument failed validation (upstream answers 422 for bad input). */
export class ValidationError extends DfstoreError {
  override readonly name = 'ValidationError';
  override readonly code = 'ERR_INVALID_ARGUMENT';
  override readonly statusCode = 422;
}

/** Something the caller asked for does not exist. Catch this type for any not-found case. */
export class NotFoundError extends DfstoreError {
  override readonly name: string = 'NotFoundError';
  override readonly code: string = 'ERR_NOT_FOUND';
  override readonly statusCode = 404;
  constructor(message = 'Not Found', options?: ErrorOptions) {
    super(message, options);
  }
}

/** The object (bucket + key) does not exist. */
export class ObjectNotFoundError extends NotFoundError {
  override readonly name = 'ObjectNotFoundError';
  override readonly code = 'ERR_OBJECT_NOT_FOUND';
  constructor(
    readonly bucket: string,
    readonly key: string,
    options?: ErrorOptions,
  ) {
    super('Not Found', options);
  }
}

/** The bucket does not exist. */
export class BucketNotFoundError extends NotFoundError {
  override readonly name = 'BucketNotFoundError';
  override readonly code = 'ERR_BUCKET_NOT_FOUND';
  constructor(
    readonly bucket: string,
    options?: ErrorOptions,
  ) {
    super(`bucket ${bucket} not found`, options);
  }
}

/** A Range header that cannot be satisfied or parsed (HTTP 416). */
export class RangeNotSatisfiableError extends DfstoreError {
  override readonly name = 'RangeNotSatisfiableError';
  override readonly code = 'ERR_RANGE_NOT_SATISFIABLE';
  override readonly statusCode = 416;
  constructor(
    message: string,
    /** Size of the whole object when known, for `Content-Range: bytes *\/size`. */
    readonly size?: number,
  ) {
    super(message);
  }
}

/** Missing or invalid credentials. */
export class UnauthorizedError extends DfstoreError {
  override readonly name = 'UnauthorizedError';
  override readonly code = 'ERR_UNAUTHORIZED';
  override readonly statusCode = 401;
}

/** Valid credentials, but not allowed. */
export class ForbiddenError extends DfstoreError {
  override readonly name = 'ForbiddenError';
  override readonly code = 'ERR_FORBIDDEN';
  override readonly statusCode = 403;
}

/** A body over a configured limit. */
export class PayloadTooLargeError extends DfstoreError {
  override readonly name = 'PayloadTooLargeError';
  override readonly code = 'ERR_PAYLOAD_TOO_LARGE';
  override readonly statusCode = 413;
}

/** The object changed or is in a state that forbids the operation. */
export class ConflictError extends DfstoreError {
  override readonly name: string = 'ConflictError';
  override readonly code: string = 'ERR_CONFLICT';
  override readonly statusCode = 409;
}

/** The resource existed but was dropped on purpose (a task evicted cluster-wide). */
export class GoneError extends DfstoreError {
  override readonly name = 'GoneError';
  override readonly code = 'ERR_TASK_GONE';
  override readonly statusCode = 410;
}

/**
 * The peer's disk is full (ENOSPC, EDQUOT): the write was refused and nothing of it is kept.
 * 507 Insufficient Storage (RFC 4918 §11.5); the message is generic and shown to clients.
 */
export class InsufficientStorageError extends DfstoreError {
  override readonly name = 'InsufficientStorageError';
  override readonly code = 'ERR_NO_SPACE';
  override readonly statusCode = 507;
  override get exposeMessage(): boolean {
    return true;
  }
}

/** Data failed an integrity check (digest mismatch). */
export class IntegrityError extends DfstoreError {
  override readonly name = 'IntegrityError';
  override readonly code = 'ERR_INTEGRITY';
  override readonly statusCode = 500;
}

/**
 * A backend (S3, OSS, fs) failed in a way that is not "not found". The vendor error stays in
 * `cause` for logs; the message never carries credentials or presigned URLs.
 */
export class BackendError extends DfstoreError {
  override readonly name: string = 'BackendError';
  override readonly code: string = 'ERR_BACKEND';
  override readonly statusCode = 500;
  /**
   * Shown to clients ("s3 putObject b/k failed: ServiceUnavailable (503)"), so that a failed
   * WriteBack says why. Adapters build these messages from operation, bucket, key and the
   * vendor's code only: never credentials, signatures or presigned URLs.
   */
  override get exposeMessage(): boolean {
    return true;
  }
}

/** The backend refused our credentials or signature (wrong secret, expired signature). */
export class BackendAuthError extends BackendError {
  override readonly name = 'BackendAuthError';
  override readonly code = 'ERR_BACKEND_AUTH';
}
