import type {
  CompletedUpload,
  CompleteUploadRequest,
  CreateUploadRequest,
  UploadSession,
  UploadSessions,
} from '../api/upload-sessions.ts';
import {
  MAX_PART_NUMBER,
  MIN_PART_SIZE,
  type ObjectBackend,
  type ObjectMetadata,
} from '../backends/object-backend.ts';
import { ValidationError } from '../core/errors.ts';
import { WriteMode } from '../core/write-mode.ts';
import type { LogMethods } from '../observability/logger.ts';
import type { P2pClient } from '../peer/p2p-client.ts';
import { taskIdForDigest, versionOf } from '../peer/task-ids.ts';
import type { SeedPeerDirectory } from './seed-peers.ts';
import { decodeUploadId, encodeUploadId } from './upload-id.ts';

const MiB = 1024 * 1024;
/** S3's largest part. */
const MAX_PART_SIZE = 5 * 1024 * MiB;
/**
 * Parts a session aims at: the answer lists a presigned URL per part, and must stay far below a
 * function URL's 6 MiB response (1024 URLs at most, for a 5 TiB object).
 */
const TARGET_PARTS = 1000;

/** The part size of a session: whole MiB, at least S3's minimum, about TARGET_PARTS parts. */
export function choosePartSize(contentLength: number): number {
  const even = Math.ceil(contentLength / TARGET_PARTS / MiB) * MiB;
  return Math.min(MAX_PART_SIZE, Math.max(MIN_PART_SIZE, even));
}

export interface FunctionUploadSessionsDeps {
  readonly backend: ObjectBackend;
  readonly seedPeers: SeedPeerDirectory;
  readonly p2p: Pick<P2pClient, 'keyChanged' | 'importTask'>;
  /** Task-ID filter, as the peers use it. */
  readonly filter: string;
  /** Seed peers that import a completed object when the session did not say. */
  readonly defaultMaxReplicas: number;
  readonly partUrlTtlSeconds: number;
  readonly logger: Pick<LogMethods, 'info' | 'warn'>;
  /** Per cluster call (default 5 s). */
  readonly clusterTimeoutMs?: number;
  readonly now?: () => number;
}

/**
 * Upload sessions of the object API function (DESIGN.md §5): the parts go from the client
 * straight to the backend's multipart upload; on complete the function checks the part list
 * against the session, completes, checks the size, then tells the cluster: every seed peer drops
 * the key's older versions, and the object's owner seed peers import the new one from the
 * backend, so that it has replicas as if it had been written through a peer.
 */
export function createUploadSessions(deps: FunctionUploadSessionsDeps): UploadSessions {
  const { backend, logger } = deps;
  const now = deps.now ?? Date.now;
  const timeoutMs = deps.clusterTimeoutMs ?? 5_000;

  async function create(bucket: string, request: CreateUploadRequest): Promise<UploadSession> {
    if (request.mode === WriteMode.Ephemeral) {
      throw new ValidationError(
        'mode 2 (Ephemeral) needs a peer cache: an upload session writes the backend',
      );
    }
    const partSize = choosePartSize(request.contentLength);
    const count = Math.ceil(request.contentLength / partSize);
    if (count > MAX_PART_NUMBER) throw new ValidationError('contentLength: too large');
    const { uploadId } = await backend.createMultipartUpload(bucket, request.key, {
      contentType: request.contentType,
      digest: request.digest,
    });
    const expiresAt = new Date(now() + deps.partUrlTtlSeconds * 1000).toISOString();
    try {
      const parts = await Promise.all(
        Array.from({ length: count }, async (_, i) => ({
          partNumber: i + 1,
          url: await backend.presignUploadPart(bucket, request.key, uploadId, i + 1, {
            expiresInSeconds: deps.partUrlTtlSeconds,
          }),
        })),
      );
      const state = {
        backendUploadId: uploadId,
        contentLength: request.contentLength,
        partSize,
        maxReplicas: request.maxReplicas || deps.defaultMaxReplicas,
      };
      return { uploadId: encodeUploadId(state), partSize, parts, expiresAt };
    } catch (error) {
      await backend.abortMultipartUpload(bucket, request.key, uploadId).catch(() => {});
      throw error;
    }
  }

  async function complete(
    bucket: string,
    uploadId: string,
    request: CompleteUploadRequest,
  ): Promise<CompletedUpload> {
    const session = decodeUploadId(uploadId);
    const { key, parts } = request;
    const expected = Math.ceil(session.contentLength / session.partSize);
    if (parts.length !== expected || parts.some((part, i) => part.partNumber !== i + 1)) {
      throw new ValidationError(
        `parts: expected parts 1..${expected} of this session, ascending, got ${parts.length}`,
      );
    }
    const { etag } = await backend.completeMultipartUpload(
      bucket,
      key,
      session.backendUploadId,
      parts,
    );
    const head = await backend.headObject(bucket, key);
    if (head.contentLength !== session.contentLength) {
      // Parts of the right count but the wrong sizes: the object must not stay visible.
      await backend.deleteObject(bucket, key);
      await announce(bucket, key, undefined, 0);
      throw new ValidationError(
        `the parts hold ${head.contentLength} bytes, not the session's contentLength ${session.contentLength}: the object was removed`,
      );
    }
    await announce(bucket, key, head, session.maxReplicas);
    return { etag: head.etag || etag };
  }

  /**
   * The backend has a new version of the key (or none): every seed peer drops the others (and
   * forwards that to their holders), then the owners import the new one. Failures are logged:
   * the object is durable already, and peers revalidate against the backend.
   */
  async function announce(
    bucket: string,
    key: string,
    head: ObjectMetadata | undefined,
    maxReplicas: number,
  ): Promise<void> {
    const peers = await deps.seedPeers.all();
    if (peers.length === 0) return;
    const changed = await Promise.allSettled(
      peers.map((peer) =>
        deps.p2p.keyChanged(peer.pieces, { bucket, key, forward: true }, signal()),
      ),
    );
    const failed = changed.filter((result) => result.status === 'rejected').length;
    if (failed > 0) {
      logger.warn(
        { bucket, failed, of: peers.length },
        'key change not delivered to every seed peer',
      );
    }
    if (!head) return;
    const version = versionOf(head);
    const taskId = taskIdForDigest(backend.name, bucket, key, version, deps.filter);
    let reached = 0;
    for (const owner of await deps.seedPeers.ranked(taskId)) {
      if (reached >= maxReplicas) break;
      try {
        await deps.p2p.importTask(owner.pieces, taskId, { bucket, key, version }, signal());
        reached++;
      } catch (error) {
        logger.warn({ err: error, taskId, seedPeer: owner.id }, 'import request failed');
      }
    }
    logger.info({ bucket, taskId, replicas: reached, target: maxReplicas }, 'upload completed');
  }

  const signal = () => AbortSignal.timeout(timeoutMs);

  return {
    create,
    complete,
    async abort(bucket, uploadId, key) {
      const session = decodeUploadId(uploadId);
      await backend.abortMultipartUpload(bucket, key, session.backendUploadId);
    },
  };
}
