import type { Context, Hono } from 'hono';
import type { z } from 'zod';
import { NotFoundError, ValidationError } from '../core/errors.ts';
import { isTaskId } from '../storage/layout.ts';
import type { KeyChangeRequest } from './key-changes.ts';
import {
  type FlushRequest,
  flushRequestSchema,
  type ImportRequest,
  importRequestSchema,
  type KeyChangeResult,
  keyChangeSchema,
  P2P_PREFIX,
  syncRequestSchema,
} from './p2p-protocol.ts';
import type { Tracker } from './tracker.ts';

export interface P2pRoutesDeps {
  /** Present on seed peers; without it, tracker routes answer 404 ERR_NOT_SEED_PEER. */
  readonly tracker?: Tracker;
  readonly onKeyChanged: (change: KeyChangeRequest) => Promise<KeyChangeResult>;
  /** Lands the key's pending write-back now; resolves once it landed (or there was none). */
  readonly onFlush?: (request: FlushRequest, signal: AbortSignal) => Promise<void>;
  /** Seed peers: starts fetching a version from the backend (does not wait for it). */
  readonly onImport?: (taskId: string, request: ImportRequest) => void;
}

/** A tracker route was called on a daemon that is not a seed peer. */
export class NotSeedPeerError extends NotFoundError {
  override readonly name = 'NotSeedPeerError';
  override readonly code = 'ERR_NOT_SEED_PEER';
  constructor() {
    super('this daemon is not a seed peer');
  }
}

/** The key has no pending cluster-held version here: the backend decides. */
export class NoPendingVersionError extends NotFoundError {
  override readonly name = 'NoPendingVersionError';
  override readonly code = 'ERR_NO_PENDING_VERSION';
  constructor() {
    super('no pending version of this key');
  }
}

/**
 * The cluster protocol's routes (lib/peer/p2p-protocol.ts), added to the piece server's app;
 * errors go through that app's error handler (`{"errors", "code"}`; 422 for a bad request).
 */
export function addP2pRoutes(app: Hono, deps: P2pRoutesDeps): Hono {
  app.post(`${P2P_PREFIX}/tasks/:taskId/sync`, async (c) => {
    const tracker = requireTracker(deps);
    const taskId = c.req.param('taskId');
    if (!isTaskId(taskId)) throw new ValidationError('taskId must be 64 lower-case hex characters');
    const request = await parseBody(c, syncRequestSchema);
    return c.json(await tracker.sync(taskId, request, c.req.raw.signal));
  });

  app.post(`${P2P_PREFIX}/keys/changed`, async (c) => {
    const change = await parseBody(c, keyChangeSchema);
    return c.json(await deps.onKeyChanged(change));
  });

  app.post(`${P2P_PREFIX}/keys/flush`, async (c) => {
    const request = await parseBody(c, flushRequestSchema);
    if (!deps.onFlush) throw new NotFoundError('this daemon takes no writes');
    await deps.onFlush(request, c.req.raw.signal);
    return c.json({ flushed: true });
  });

  app.post(`${P2P_PREFIX}/tasks/:taskId/import`, async (c) => {
    requireTracker(deps);
    const taskId = c.req.param('taskId');
    if (!isTaskId(taskId)) throw new ValidationError('taskId must be 64 lower-case hex characters');
    const request = await parseBody(c, importRequestSchema);
    if (!deps.onImport) throw new NotSeedPeerError();
    deps.onImport(taskId, request);
    return c.json({ accepted: true }, 202);
  });

  app.get(`${P2P_PREFIX}/keys/current`, (c) => {
    const tracker = requireTracker(deps);
    const bucket = c.req.query('bucket');
    const key = c.req.query('key');
    if (!bucket) throw new ValidationError('bucket is required');
    if (!key) throw new ValidationError('key is required');
    const version = tracker.pending(bucket, key);
    if (!version) throw new NoPendingVersionError();
    return c.json(version);
  });
  return app;
}

function requireTracker(deps: P2pRoutesDeps): Tracker {
  if (!deps.tracker) throw new NotSeedPeerError();
  return deps.tracker;
}

/** The JSON body, checked by `schema`; ValidationError naming the first bad field. */
async function parseBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    throw new ValidationError('the body must be JSON');
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new ValidationError(`invalid body: ${where}${issue?.message ?? 'bad shape'}`);
}
