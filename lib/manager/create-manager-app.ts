import { Hono } from 'hono';
import { createErrorHandler, type ErrorLogger, notFoundHandler } from '../api/error-handler.ts';
import type { BucketInfo, ObjectBackend } from '../backends/object-backend.ts';
import type { BackendConfig } from '../config/backend-config.ts';
import { BucketNotFoundError, ValidationError } from '../core/errors.ts';
import { validateBucketName } from '../core/names.ts';
import type { MembershipSource } from './membership/membership-source.ts';
import { objectStorageInfo } from './object-storage-info.ts';

/** What `GET /api/v1/peer-config` serves; peers apply it every `refreshInterval` seconds. */
export interface ServedPeerConfig {
  readonly filter: string;
  readonly maxReplicas: number;
  /** Seconds. */
  readonly refreshInterval: number;
}

export interface ManagerDeps {
  /** Called per request so a reconfigured backend is picked up without rebuilding the app. */
  readonly backend: () => ObjectBackend;
  /** Only its public fields are served (see objectStorageInfo). */
  readonly backendConfig: () => BackendConfig;
  readonly membership: MembershipSource;
  readonly peerConfig: ServedPeerConfig;
  readonly logger?: ErrorLogger;
}

/**
 * The manager config endpoint (DESIGN.md §6): Dragonfly's manager REST shapes for the parts
 * dfstore peers use. One route table for every host: the local process, the manager function
 * and tests (`app.request`). Errors are `{"errors": "...", "code": "ERR_..."}` like the object API.
 */
export function createManagerApp(deps: ManagerDeps): Hono {
  const app = new Hono({ strict: false });
  app.onError(createErrorHandler(deps.logger));
  app.notFound(notFoundHandler);

  app.get('/healthy', (c) => c.json('OK'));

  // Names, region, endpoint and path style only. OSS/S3 keys are never served here: a later,
  // authorised route will hand them out from Secrets Manager to peers that need them.
  app.get('/api/v1/object-storage', (c) => c.json(objectStorageInfo(deps.backendConfig())));

  app.get('/api/v1/buckets', async (c) => {
    const buckets = await deps.backend().listBuckets();
    return c.json(buckets.map(toBucketMetadata));
  });
  app.post('/api/v1/buckets', async (c) => {
    const name = parseCreateBucket(await c.req.json().catch(() => undefined));
    await deps.backend().createBucket(name);
    return c.body(null, 200);
  });
  app.get('/api/v1/buckets/:id', async (c) => {
    const name = validateBucketName(c.req.param('id'));
    const backend = deps.backend();
    const listed = (await backend.listBuckets()).find((bucket) => bucket.name === name);
    if (listed) return c.json(toBucketMetadata(listed));
    // Not every listing shows every reachable bucket (S3 lists the caller's own only).
    if (await backend.bucketExists(name)) return c.json(toBucketMetadata({ name }));
    throw new BucketNotFoundError(name);
  });
  app.delete('/api/v1/buckets/:id', async (c) => {
    await deps.backend().deleteBucket(validateBucketName(c.req.param('id')));
    return c.body(null, 200);
  });

  app.get('/api/v1/seed-peers', async (c) => c.json(await deps.membership.list()));
  app.get('/api/v1/peer-config', (c) => {
    const { filter, maxReplicas, refreshInterval } = deps.peerConfig;
    return c.json({ filter, maxReplicas, refreshInterval });
  });
  return app;
}

/** Dragonfly's `CreateBucketRequest`: `{"name": "..."}`, required; a bad name is a 422. */
function parseCreateBucket(body: unknown): string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError('the body must be a JSON object {"name": "..."}');
  }
  const name = (body as { name?: unknown }).name;
  if (typeof name !== 'string' || name === '') throw new ValidationError('name is required');
  return validateBucketName(name);
}

/**
 * Dragonfly's `objectstorage.BucketMetadata` has no JSON tags, so Go writes `Name` and
 * `CreateAt`; Go's zero time stands in when the backend does not know the creation time.
 */
function toBucketMetadata(bucket: BucketInfo) {
  return {
    Name: bucket.name,
    CreateAt: bucket.createdAt?.toISOString() ?? '0001-01-01T00:00:00Z',
  };
}
