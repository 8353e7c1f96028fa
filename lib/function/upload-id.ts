import * as z from 'zod';
import { ValidationError } from '../core/errors.ts';

/**
 * What complete needs to know about a session, carried in the upload ID itself (the function
 * keeps no state between invocations): the backend's upload ID, the declared size and part
 * size (to check the part list before the object becomes visible) and the replica count.
 * Unsigned: the caller is already authenticated, and a tampered ID can only make its own
 * complete fail or import fewer replicas; the object's bytes and digest come from the backend.
 */
export interface UploadSessionState {
  /** The backend's upload ID. */
  readonly backendUploadId: string;
  readonly contentLength: number;
  readonly partSize: number;
  readonly maxReplicas: number;
}

const stateSchema = z.strictObject({
  v: z.literal(1),
  u: z.string().min(1).max(1024),
  n: z.number().int().positive(),
  p: z.number().int().positive(),
  r: z.number().int().min(0).max(100),
});

export function encodeUploadId(state: UploadSessionState): string {
  const packed = {
    v: 1,
    u: state.backendUploadId,
    n: state.contentLength,
    p: state.partSize,
    r: state.maxReplicas,
  };
  return Buffer.from(JSON.stringify(packed)).toString('base64url');
}

/** Throws ValidationError (422) for anything encodeUploadId did not make. */
export function decodeUploadId(uploadId: string): UploadSessionState {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(uploadId, 'base64url').toString('utf8'));
  } catch {
    throw new ValidationError('invalid uploadId');
  }
  const parsed = stateSchema.safeParse(raw);
  if (!parsed.success) throw new ValidationError('invalid uploadId');
  const { u, n, p, r } = parsed.data;
  return { backendUploadId: u, contentLength: n, partSize: p, maxReplicas: r };
}
