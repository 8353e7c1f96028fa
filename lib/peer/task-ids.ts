import type { ObjectMetadata } from '../backends/object-backend.ts';
import { tryParseDigest } from '../core/digest.ts';
import { taskIdV1 } from '../core/task-id.ts';

/**
 * The source URL a task ID hashes: canonical and unsigned, so that every peer derives the same
 * ID for the same object version every time (PROTOCOL.md §5 FIX: upstream hashed a freshly
 * presigned URL). The digest in the task metadata tells versions apart.
 */
export function taskSourceUrl(backendName: string, bucket: string, key: string): string {
  return `${backendName}://${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** Task ID of a version known by its object digest (`md5:<hex>`). */
export function taskIdForDigest(
  backendName: string,
  bucket: string,
  key: string,
  digest: string,
  filter: string,
): string {
  return taskIdV1(taskSourceUrl(backendName, bucket, key), { digest, filter });
}

/**
 * The version identity of a backend object: its `digest` metadata when it has a valid one
 * (written by dfstore), else its ETag (objects written by other tools).
 */
export function versionOf(metadata: ObjectMetadata): string {
  if (metadata.digest && tryParseDigest(metadata.digest)) return metadata.digest;
  return `etag:${metadata.etag}`;
}
