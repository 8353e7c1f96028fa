import * as z from 'zod';
import { tryParseDigest } from '../core/digest.ts';
import { ValidationError } from '../core/errors.ts';
import { computePieceCount, MAX_PIECE_SIZE } from '../core/piece-size.ts';
import { PieceBitmap } from './piece-bitmap.ts';

/** Object metadata a task carries along (what HEAD answers from the cache). */
export interface TaskObjectMetadata {
  readonly contentType?: string;
  readonly contentDisposition?: string;
  readonly contentEncoding?: string;
  readonly contentLanguage?: string;
  /** Quoted HTTP entity tag. */
  readonly etag?: string;
  /** ISO 8601 time of the object version. */
  readonly lastModified?: string;
  /** Where the version was first written; informational (copies share the task). */
  readonly bucket?: string;
  readonly key?: string;
}

/** The contents of a task's `meta.json`. */
export interface TaskMeta extends TaskObjectMetadata {
  readonly version: 1;
  readonly taskId: string;
  readonly contentLength: number;
  readonly pieceSize: number;
  readonly pieceCount: number;
  /**
   * sha256 hex of each piece, in order. A partial task may have '' (not known yet) for pieces
   * not in its bitmap: a seed peer learns each digest as the piece arrives from the backend.
   */
  readonly pieceDigests: readonly string[];
  /** Object digest `md5:<hex>`; always set for imported tasks, may be unknown for partial ones. */
  readonly digest?: string;
  /** True once every piece is present and durable; then `presentPieces` is absent. */
  readonly complete: boolean;
  /** Base64 piece bitmap (see PieceBitmap) of the pieces recorded durable, while incomplete. */
  readonly presentPieces?: string;
  /** ISO 8601. */
  readonly createdAt: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Whether `value` is a piece digest: sha256 lower-case hex. */
export function isPieceDigest(value: string): boolean {
  return SHA256_HEX.test(value);
}

const metaSchema = z.object({
  version: z.literal(1),
  taskId: z.string().regex(SHA256_HEX),
  contentLength: z.number().int().nonnegative(),
  pieceSize: z.number().int().positive().max(MAX_PIECE_SIZE),
  pieceCount: z.number().int().nonnegative(),
  pieceDigests: z.array(z.union([z.string().regex(SHA256_HEX), z.literal('')])),
  digest: z.string().optional(),
  contentType: z.string().optional(),
  contentDisposition: z.string().optional(),
  contentEncoding: z.string().optional(),
  contentLanguage: z.string().optional(),
  etag: z.string().optional(),
  lastModified: z.string().optional(),
  bucket: z.string().optional(),
  key: z.string().optional(),
  complete: z.boolean(),
  presentPieces: z.string().optional(),
  createdAt: z.string(),
});

/**
 * Checks that a piece layout is self-consistent: piece size within 1..15 MiB, one sha256 hex
 * per piece. With `allowUnknown` (partial tasks only) a digest may be '' (not known yet).
 * Throws ValidationError.
 */
export function validatePieceLayout(
  contentLength: number,
  pieceSize: number,
  pieceDigests: readonly string[],
  options: { readonly allowUnknown?: boolean } = {},
): void {
  if (!Number.isSafeInteger(contentLength) || contentLength < 0) {
    throw new ValidationError(`invalid content length ${contentLength}`);
  }
  if (!Number.isSafeInteger(pieceSize) || pieceSize <= 0 || pieceSize > MAX_PIECE_SIZE) {
    throw new ValidationError(`invalid piece size ${pieceSize}`);
  }
  const pieceCount = computePieceCount(contentLength, pieceSize);
  if (pieceDigests.length !== pieceCount) {
    throw new ValidationError(`expected ${pieceCount} piece digests, got ${pieceDigests.length}`);
  }
  const valid = (d: string) => SHA256_HEX.test(d) || (options.allowUnknown === true && d === '');
  if (!pieceDigests.every(valid)) {
    throw new ValidationError('piece digests must be sha256 lower-case hex');
  }
}

/** Checks an optional object digest: `md5:<32 hex>`. Throws ValidationError. */
export function validateObjectDigest(digest: string | undefined): void {
  if (digest === undefined) return;
  if (tryParseDigest(digest)?.algorithm !== 'md5' || digest !== digest.toLowerCase()) {
    throw new ValidationError(`invalid object digest ${JSON.stringify(digest)}`);
  }
}

/**
 * Parses and cross-checks a `meta.json` (recovery trusts nothing on disk). Throws when the JSON
 * is malformed, names another task, or its piece layout or bitmap is inconsistent: a complete
 * task knows every piece digest, a partial one may lack only those of pieces it does not hold.
 */
export function parseTaskMeta(text: string, expectedTaskId: string): TaskMeta {
  const parsed = metaSchema.parse(JSON.parse(text));
  if (parsed.taskId !== expectedTaskId) throw new Error('meta.json names another task');
  validatePieceLayout(parsed.contentLength, parsed.pieceSize, parsed.pieceDigests, {
    allowUnknown: !parsed.complete,
  });
  validateObjectDigest(parsed.digest);
  if (parsed.pieceCount !== parsed.pieceDigests.length) throw new Error('wrong piece count');
  if (parsed.complete && parsed.presentPieces !== undefined) {
    throw new Error('a complete task carries no piece bitmap');
  }
  if (!parsed.complete) {
    const present = PieceBitmap.fromBase64(parsed.pieceCount, parsed.presentPieces ?? '');
    for (const index of present.indexes()) {
      if (parsed.pieceDigests[index] === '') throw new Error(`piece ${index} has no digest`);
    }
  }
  return stripUndefined(parsed) as TaskMeta;
}

/**
 * `known` with the unknown ('') digests filled in from `more` where it knows them. Returns
 * `known` itself when nothing new was learnt. Both have one entry per piece.
 */
export function fillPieceDigests(
  known: readonly string[],
  more: readonly string[],
): readonly string[] {
  if (!known.some((digest, i) => digest === '' && (more[i] ?? '') !== '')) return known;
  return known.map((digest, i) => digest || (more[i] ?? ''));
}

/** The bytes of `meta.json` (stable key order, no undefined values). */
export function serializeTaskMeta(meta: TaskMeta): string {
  return `${JSON.stringify(stripUndefined({ ...meta }))}\n`;
}

/** The pieces a meta records as present. */
export function presentBitmap(meta: TaskMeta): PieceBitmap {
  if (!meta.complete) return PieceBitmap.fromBase64(meta.pieceCount, meta.presentPieces ?? '');
  const all = new PieceBitmap(meta.pieceCount);
  for (let i = 0; i < meta.pieceCount; i++) all.add(i);
  return all;
}

/** The meta of a new partial task: nothing present yet (an empty object is complete at once). */
export function newPartialMeta(
  taskId: string,
  layout: {
    readonly contentLength: number;
    readonly pieceSize: number;
    readonly pieceDigests: readonly string[];
    readonly digest?: string;
  } & TaskObjectMetadata,
  createdAt: string,
): TaskMeta {
  const pieceCount = computePieceCount(layout.contentLength, layout.pieceSize);
  return {
    version: 1,
    taskId,
    contentLength: layout.contentLength,
    pieceSize: layout.pieceSize,
    pieceCount,
    pieceDigests: [...layout.pieceDigests],
    digest: layout.digest,
    ...pickObjectMetadata(layout),
    complete: pieceCount === 0,
    presentPieces: pieceCount === 0 ? undefined : new PieceBitmap(pieceCount).toBase64(),
    createdAt,
  };
}

/** Bytes of the pieces a bitmap marks present. */
export function presentBytes(meta: TaskMeta, present: PieceBitmap): number {
  if (present.full) return meta.contentLength;
  let total = 0;
  for (const index of present.indexes()) {
    total += Math.min(meta.pieceSize, meta.contentLength - index * meta.pieceSize);
  }
  return total;
}

/** The object metadata fields of `source`, without undefined values. */
export function pickObjectMetadata(source: TaskObjectMetadata): TaskObjectMetadata {
  return stripUndefined({
    contentType: source.contentType,
    contentDisposition: source.contentDisposition,
    contentEncoding: source.contentEncoding,
    contentLanguage: source.contentLanguage,
    etag: source.etag,
    lastModified: source.lastModified,
    bucket: source.bucket,
    key: source.key,
  });
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
