import type { Context, Hono } from 'hono';
import * as z from 'zod';
import { MAX_PART_NUMBER } from '../../backends/object-backend.ts';
import { tryParseDigest } from '../../core/digest.ts';
import { ValidationError } from '../../core/errors.ts';
import { validateObjectKey } from '../../core/names.ts';
import type { WriteMode } from '../../core/write-mode.ts';
import { bucketPath } from '../object-path.ts';
import { firstIssue } from '../schemas.ts';
import type { UploadSessions } from '../upload-sessions.ts';

/** 5 TiB, S3's largest object (upload sessions stay within S3's limits on every backend). */
export const MAX_UPLOAD_BYTES = 5 * 1024 ** 4;

const key = z.string().transform((value, ctx) => {
  try {
    return validateObjectKey(value);
  } catch (error) {
    ctx.issues.push({ code: 'custom', message: (error as Error).message, input: value });
    return z.NEVER;
  }
});

const createSchema = z.strictObject({
  key,
  contentLength: z.number().int().min(1, 'must be ≥ 1').max(MAX_UPLOAD_BYTES, 'must be ≤ 5 TiB'),
  digest: z
    .string()
    .refine((value) => tryParseDigest(value)?.algorithm === 'md5', 'must be md5:<32 hex digits>')
    .transform((value) => value.toLowerCase()),
  contentType: z.string().min(1).max(256).optional(),
  mode: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
  maxReplicas: z.number().int().min(0).max(100).optional(),
});

const completeSchema = z.strictObject({
  key,
  parts: z
    .array(
      z.strictObject({
        partNumber: z.number().int().min(1).max(MAX_PART_NUMBER),
        etag: z.string().min(1).max(1024),
      }),
    )
    .min(1)
    .max(MAX_PART_NUMBER)
    .refine(
      (parts) => parts.every((part, i) => part.partNumber === i + 1),
      'must list every part once, ascending from partNumber 1',
    ),
});

/** Upload IDs are opaque to the API; this only keeps junk out of the service. */
const UPLOAD_ID_RE = /^[A-Za-z0-9._~+/=-]{1,2048}$/;

/**
 * The upload-session routes (lib/api/upload-sessions.ts), mounted only on hosts that have an
 * inline limit (the object API function). Bodies are JSON; every validation failure is a 422.
 */
export function addUploadRoutes(app: Hono, uploads: UploadSessions): void {
  app.post('/buckets/:bucket/uploads', async (c) => {
    const bucket = bucketPath(c);
    const request = await parseJson(c, createSchema);
    const { mode, ...rest } = request;
    return c.json(await uploads.create(bucket, { ...rest, mode: mode as WriteMode | undefined }));
  });

  app.post('/buckets/:bucket/uploads/:uploadId/complete', async (c) => {
    const bucket = bucketPath(c);
    const uploadId = uploadIdParam(c);
    const request = await parseJson(c, completeSchema);
    return c.json(await uploads.complete(bucket, uploadId, request));
  });

  app.delete('/buckets/:bucket/uploads/:uploadId', async (c) => {
    const bucket = bucketPath(c);
    const uploadId = uploadIdParam(c);
    const parsed = key.safeParse(c.req.query('key') ?? '');
    if (!parsed.success) throw new ValidationError(`key: ${firstIssue(parsed.error)}`);
    await uploads.abort(bucket, uploadId, parsed.data);
    return c.body(null, 200);
  });
}

function uploadIdParam(c: Context): string {
  const uploadId = c.req.param('uploadId') ?? '';
  if (!UPLOAD_ID_RE.test(uploadId)) throw new ValidationError('invalid uploadId');
  return uploadId;
}

async function parseJson<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new ValidationError('the body must be JSON');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new ValidationError(firstIssue(parsed.error));
  return parsed.data;
}
