import { createHash } from 'node:crypto';
import { ValidationError } from '../core/errors.ts';
import { type CompletedPart, MAX_PART_NUMBER } from './object-backend.ts';

/**
 * Argument checks and ETag arithmetic of multipart sessions, shared by the adapters so that every
 * backend refuses the same inputs the same way before any request is made.
 */

export function checkPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw new ValidationError(`part number must be an integer from 1 to ${MAX_PART_NUMBER}`);
  }
}

/** Lifetime of a presigned part URL: whole seconds, 1..max. */
export function checkExpiresInSeconds(seconds: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > max) {
    throw new ValidationError(
      `expiresInSeconds must be a whole number of seconds from 1 to ${max}`,
    );
  }
}

/**
 * The part list of a complete: at least one part, part numbers valid and strictly ascending (S3
 * refuses other orders; ali-oss would silently sort and deduplicate), every ETag present.
 */
export function checkCompletedParts(parts: readonly CompletedPart[]): void {
  if (parts.length === 0) throw new ValidationError('a multipart upload needs at least one part');
  let previous = 0;
  for (const { partNumber, etag } of parts) {
    checkPartNumber(partNumber);
    if (partNumber <= previous) {
      throw new ValidationError('parts must be listed in strictly ascending part number order');
    }
    if (typeof etag !== 'string' || etag.trim() === '') {
      throw new ValidationError(`part ${partNumber} has no ETag`);
    }
    previous = partNumber;
  }
}

/** The md5 hex a part ETag stands for (`"9e10…"` or `9E10…`), or undefined when it is none. */
export function partEtagMd5(etag: string): string | undefined {
  const hex = etag
    .trim()
    .replace(/^"(.*)"$/, '$1')
    .toLowerCase();
  return /^[0-9a-f]{32}$/.test(hex) ? hex : undefined;
}

/** S3's multipart ETag: `"<md5 of the concatenated binary part md5s>-<part count>"`. */
export function multipartEtag(partMd5s: readonly string[]): string {
  const hash = createHash('md5');
  for (const md5 of partMd5s) hash.update(Buffer.from(md5, 'hex'));
  return `"${hash.digest('hex')}-${partMd5s.length}"`;
}
