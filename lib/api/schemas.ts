import * as z from 'zod';
import type { ListObjectsOptions } from '../backends/object-backend.ts';
import { MAX_LIST_LIMIT } from '../backends/object-backend.ts';
import { ValidationError } from '../core/errors.ts';
import { parseWriteMode } from '../core/write-mode.ts';
import type { PutFormFields } from './object-service.ts';

const decimal = () => z.string().regex(/^\d+$/, 'must be a decimal integer').transform(Number);

const putFieldsSchema = z.object({
  mode: z.string().optional(),
  filter: z.string().max(1024).optional(),
  maxReplicas: decimal()
    .pipe(z.number().int().min(0, 'must be 0..100').max(100, 'must be 0..100'))
    .optional(),
});

/** Fields of a PUT form (upstream: mode 0..2, maxReplicas 0..100 where 0 means the default). */
export function parsePutFields(fields: Map<string, string>): PutFormFields {
  const parsed = putFieldsSchema.safeParse(Object.fromEntries(fields));
  if (!parsed.success) throw new ValidationError(firstIssue(parsed.error));
  const { mode, filter, maxReplicas } = parsed.data;
  return {
    mode: parseWriteMode(mode),
    filter: filter || undefined,
    maxReplicas: maxReplicas || undefined,
  };
}

const listQuerySchema = z.object({
  prefix: z.string().optional(),
  marker: z.string().optional(),
  delimiter: z.string().optional(),
  limit: z
    .string()
    .regex(/^-?\d+$/, 'must be an integer')
    .transform(Number)
    .optional(),
});

/** Query of `GET /buckets/:bucket/metadatas`: limit absent or ≤ 0 → 1000, over 1000 → 1000. */
export function parseListQuery(query: Record<string, string>): ListObjectsOptions {
  const parsed = listQuerySchema.safeParse(query);
  if (!parsed.success) throw new ValidationError(firstIssue(parsed.error));
  const { prefix, marker, delimiter, limit } = parsed.data;
  return {
    prefix: prefix || undefined,
    marker: marker || undefined,
    delimiter: delimiter || undefined,
    limit: !limit || limit <= 0 ? MAX_LIST_LIMIT : Math.min(limit, MAX_LIST_LIMIT),
  };
}

/** The first issue of a failed parse, as a 422 message (`path: message`). */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid request';
  return issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message;
}
