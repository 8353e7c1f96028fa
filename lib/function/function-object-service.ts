import { Readable } from 'node:stream';
import { createBackendObjectService } from '../api/backend-object-service.ts';
import type {
  ObjectService,
  PutUpload,
  ServiceGetOptions,
  ServiceGetRedirect,
  ServiceGetResult,
} from '../api/object-service.ts';
import type { ObjectBackend } from '../backends/object-backend.ts';
import { DfstoreError } from '../core/errors.ts';
import { resolveRange } from '../core/range.ts';
import type { LogMethods } from '../observability/logger.ts';
import type { P2pClient } from '../peer/p2p-client.ts';
import { FORM_OVERHEAD_BYTES, objectTooLarge, readWithin } from './inline-limit.ts';
import { isUnreachable } from './seed-peer-service.ts';
import type { FunctionSeedPeer, SeedPeerDirectory } from './seed-peers.ts';

/** A seed peer's object API as the function calls it (createSeedPeerObjectService). */
export type RemoteObjectService = Omit<ObjectService, 'metadata'>;

export interface FunctionObjectServiceDeps {
  readonly backend: ObjectBackend;
  readonly seedPeers: SeedPeerDirectory;
  /** The object API of one seed peer (clients are the caller's to cache). */
  readonly seedPeerService: (peer: FunctionSeedPeer) => RemoteObjectService;
  readonly p2p: Pick<P2pClient, 'currentVersion' | 'flushKey'>;
  /** Bodies up to this many bytes pass through the function. */
  readonly inlineLimit: number;
  /** Lifetime of the presigned GET URL of a redirect. */
  readonly redirectTtlSeconds: number;
  readonly logger: Pick<LogMethods, 'debug' | 'info' | 'warn'>;
  /** Per pending-version lookup (default 5 s). */
  readonly lookupTimeoutMs?: number;
  /** Longest wait for a holder to land a pending write-back before a redirect (default 60 s). */
  readonly flushTimeoutMs?: number;
  /** Where requests go when no seed peer answers; default straight to the backend. */
  readonly fallback?: ObjectService;
}

/** The newest version of a key could not be made readable from the backend in time. */
export class FlushFailedError extends DfstoreError {
  override readonly name = 'FlushFailedError';
  override readonly code = 'ERR_FLUSH_FAILED';
  override readonly statusCode = 503;
  override get exposeMessage(): boolean {
    return true;
  }
}

/**
 * The object API function's ObjectService (DESIGN.md §5). Every request goes to the key's first
 * reachable seed peer (rendezvous rank of `bucket/key`, as the peers' pending-version lookups
 * do), which owns durability: journal, backend, replicas. A seed peer that cannot be reached is
 * skipped; with none left the request goes straight to the backend (writes synchronously, so an
 * acknowledged write is never only in memory; mode 2 is then rejected with a 422).
 *
 * Bodies above the inline limit never pass: a GET is answered with a redirect to a presigned
 * backend URL, after the newest version has been written back if the cluster still held it
 * only in a journal; a PUT gets a 413 that points at upload sessions.
 */
export function createFunctionObjectService(deps: FunctionObjectServiceDeps): ObjectService {
  const { backend, seedPeers, logger, inlineLimit } = deps;
  const fallback = deps.fallback ?? createBackendObjectService(backend);
  const lookupTimeoutMs = deps.lookupTimeoutMs ?? 5_000;
  const flushTimeoutMs = deps.flushTimeoutMs ?? 60_000;

  /** Runs `call` on the first seed peer in rank that can be reached, else on the fallback. */
  async function route<T>(
    placementKey: string,
    call: (service: RemoteObjectService, viaCluster: boolean) => Promise<T>,
  ): Promise<T> {
    for (const peer of await seedPeers.ranked(placementKey)) {
      try {
        return await call(deps.seedPeerService(peer), true);
      } catch (error) {
        if (!isUnreachable(error)) throw error;
        seedPeers.markUnreachable(peer.id);
      }
    }
    return call(fallback, false);
  }

  /** Asks the holder of a pending (journal-only) version of the key to write it back now. */
  async function flushPending(bucket: string, key: string): Promise<void> {
    // Every seed peer heard of a pending version; the first two in rank cover one being down.
    const ranked = (await seedPeers.ranked(`${bucket}/${key}`)).slice(0, 2);
    for (const peer of ranked) {
      let pending: Awaited<ReturnType<typeof deps.p2p.currentVersion>>;
      try {
        pending = await deps.p2p.currentVersion(
          peer.pieces,
          bucket,
          key,
          AbortSignal.timeout(lookupTimeoutMs),
        );
      } catch (error) {
        logger.debug({ err: error, seedPeer: peer.id }, 'pending-version lookup failed');
        continue;
      }
      if (!pending) return;
      try {
        await deps.p2p.flushKey(
          pending.holder.pieces,
          bucket,
          key,
          AbortSignal.timeout(flushTimeoutMs),
        );
        logger.info({ bucket, holder: pending.holder.peerId }, 'pending version flushed');
      } catch (error) {
        logger.warn({ err: error, bucket, holder: pending.holder.peerId }, 'flush failed');
        throw new FlushFailedError(
          'the newest version of this object is not in the backend yet and could not be written back: retry later',
          { cause: error },
        );
      }
      return;
    }
  }

  async function redirect(
    bucket: string,
    key: string,
    viaCluster: boolean,
  ): Promise<ServiceGetRedirect> {
    if (viaCluster) await flushPending(bucket, key);
    const url = await backend.presignUrl(bucket, key, {
      method: 'GET',
      expiresIn: deps.redirectTtlSeconds,
    });
    return { redirect: url };
  }

  async function getObjectOrRedirect(
    bucket: string,
    key: string,
    options: ServiceGetOptions,
  ): Promise<ServiceGetResult | ServiceGetRedirect> {
    const answer = await route(`${bucket}/${key}`, async (service, viaCluster) => {
      // HEAD first: a large object must not be pulled into the cluster only to be dropped here.
      const metadata = await service.headObject(bucket, key);
      const size = metadata.contentLength;
      const served = options.range ? resolveRange(options.range, size).length : size;
      if (served > inlineLimit) return { tooLarge: viaCluster };
      const got = await service.getObject(bucket, key, options);
      if ((got.range?.length ?? got.metadata.contentLength) > inlineLimit) {
        got.body.destroy(); // replaced by a larger version since the HEAD
        return { tooLarge: viaCluster };
      }
      return got;
    });
    if ('tooLarge' in answer) return redirect(bucket, key, answer.tooLarge);
    return answer;
  }

  async function putObject(bucket: string, key: string, upload: PutUpload): Promise<void> {
    if (upload.sizeHint !== undefined && upload.sizeHint > inlineLimit + FORM_OVERHEAD_BYTES) {
      upload.body.resume();
      throw objectTooLarge(inlineLimit);
    }
    const data = await readWithin(upload.body, inlineLimit);
    const form = await upload.form();
    await route(`${bucket}/${key}`, (service) =>
      service.putObject(bucket, key, {
        body: Readable.from([data]),
        fileName: upload.fileName,
        contentType: upload.contentType,
        sizeHint: data.length,
        form: async () => form,
      }),
    );
  }

  return {
    metadata: () => ({ name: backend.name, region: backend.region, endpoint: backend.endpoint }),
    createBucket: (bucket) => route(bucket, (service) => service.createBucket(bucket)),
    listObjects: (bucket, options) =>
      route(bucket, (service) => service.listObjects(bucket, options)),
    headObject: (bucket, key) =>
      route(`${bucket}/${key}`, (service) => service.headObject(bucket, key)),
    /** In-process callers only: no inline limit (the GET route uses getObjectOrRedirect). */
    getObject: (bucket, key, options) =>
      route(`${bucket}/${key}`, (service) => service.getObject(bucket, key, options)),
    getObjectOrRedirect,
    putObject,
    copyObject: (bucket, source, destination) =>
      route(`${bucket}/${destination}`, (service) =>
        service.copyObject(bucket, source, destination),
      ),
    deleteObject: (bucket, key) =>
      route(`${bucket}/${key}`, (service) => service.deleteObject(bucket, key)),
  };
}
