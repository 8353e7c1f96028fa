import { createHmac, timingSafeEqual } from 'node:crypto';
import type { PresignOptions } from './object-backend.ts';

/**
 * Presigned URLs of the fs backend, served by fs-presign-app.ts:
 * `<baseUrl>/<bucket>/<key, each segment percent-encoded>?X-Dfstore-Method=GET|PUT
 * &X-Dfstore-Expires=<unix seconds>&X-Dfstore-Signature=<hex HMAC-SHA256>` where the HMAC (keyed
 * with the configured secret) covers `method \n bucket \n key \n expires`, the key decoded.
 * A multipart part URL (a PUT) adds `X-Dfstore-Upload-Id` and `X-Dfstore-Part-Number`, and its
 * HMAC covers `PUT-PART \n bucket \n key \n expires \n uploadId \n partNumber`: the distinct
 * first line keeps object and part signatures from ever standing in for each other, and the
 * fields after the key hold no newline, so a key cannot forge them either.
 */
export const PRESIGN_PARAMS = {
  method: 'X-Dfstore-Method',
  expires: 'X-Dfstore-Expires',
  signature: 'X-Dfstore-Signature',
  uploadId: 'X-Dfstore-Upload-Id',
  partNumber: 'X-Dfstore-Part-Number',
} as const;

export type PresignMethod = PresignOptions['method'];

/** The part of a multipart upload a PUT URL is for. */
export interface PresignedPart {
  readonly uploadId: string;
  readonly partNumber: number;
}

export function presignSignature(
  secret: string,
  method: PresignMethod,
  bucket: string,
  key: string,
  expires: number,
  part?: PresignedPart,
): string {
  const text = part
    ? `PUT-PART\n${bucket}\n${key}\n${expires}\n${part.uploadId}\n${part.partNumber}`
    : `${method}\n${bucket}\n${key}\n${expires}`;
  return createHmac('sha256', secret).update(text, 'utf8').digest('hex');
}

/** `/`-separated segments stay readable; everything else a path could misread is escaped. */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

export function buildPresignedUrl(
  baseUrl: string,
  secret: string,
  request: {
    bucket: string;
    key: string;
    method: PresignMethod;
    expires: number;
    /** Makes it a part URL (method PUT). */
    part?: PresignedPart;
  },
): string {
  const { bucket, key, method, expires, part } = request;
  const query = new URLSearchParams({
    [PRESIGN_PARAMS.method]: method,
    [PRESIGN_PARAMS.expires]: String(expires),
    ...(part && {
      [PRESIGN_PARAMS.uploadId]: part.uploadId,
      [PRESIGN_PARAMS.partNumber]: String(part.partNumber),
    }),
    [PRESIGN_PARAMS.signature]: presignSignature(secret, method, bucket, key, expires, part),
  });
  return `${baseUrl.replace(/\/+$/, '')}/${bucket}/${encodeKeyPath(key)}?${query}`;
}

export interface PresignedRequest {
  readonly method: PresignMethod;
  readonly bucket: string;
  readonly key: string;
  /** Query parameter lookup of the incoming request. */
  readonly query: (name: string) => string | undefined;
  readonly now: Date;
}

/**
 * Checks a presigned request: the signature (compared in constant time) first, so a tampered
 * expiry reads as a bad signature, then the method and the expiry. Returns the reason for
 * refusing, or undefined when the request is allowed.
 */
export function checkPresignedRequest(
  secret: string,
  request: PresignedRequest,
): string | undefined {
  const method = request.query(PRESIGN_PARAMS.method);
  const expires = request.query(PRESIGN_PARAMS.expires);
  const signature = request.query(PRESIGN_PARAMS.signature);
  if (!method || !expires || !signature) return 'missing presigned URL parameters';
  if ((method !== 'GET' && method !== 'PUT') || !/^\d{1,15}$/.test(expires)) {
    return 'invalid presigned URL parameters';
  }
  const part = presignedPart(request.query);
  // The part signature does not cover the method parameter: a part URL is a PUT or nothing.
  if (part === null || (part && method !== 'PUT')) return 'invalid presigned URL parameters';
  const expected = Buffer.from(
    presignSignature(secret, method, request.bucket, request.key, Number(expires), part),
    'hex',
  );
  const given = /^[0-9a-f]{64}$/i.test(signature) ? Buffer.from(signature, 'hex') : undefined;
  if (!given || !timingSafeEqual(expected, given)) return 'signature does not match';
  if (method !== request.method) return `URL is presigned for ${method}, not ${request.method}`;
  if (request.now.getTime() > Number(expires) * 1000) return 'presigned URL has expired';
  return undefined;
}

/**
 * The part a URL's query names: undefined for an object URL, null when the part parameters are
 * incomplete or malformed. Trust it only after checkPresignedRequest allowed the request.
 */
export function presignedPart(
  query: (name: string) => string | undefined,
): PresignedPart | undefined | null {
  const uploadId = query(PRESIGN_PARAMS.uploadId);
  const partNumber = query(PRESIGN_PARAMS.partNumber);
  if (uploadId === undefined && partNumber === undefined) return undefined;
  if (!uploadId || !partNumber || !/^[1-9]\d{0,4}$/.test(partNumber)) return null;
  return { uploadId, partNumber: Number(partNumber) };
}
