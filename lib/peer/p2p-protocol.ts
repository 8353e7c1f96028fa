import * as z from 'zod';

/**
 * The cluster-internal protocol between daemons (DESIGN.md §3–§4), served on every daemon's
 * piece server port next to `GET /download/...`. Peers, seed peers and the object API function
 * speak it; clients never do. All bodies are JSON; errors are `{"errors", "code"}` like the
 * object API. See docs/P2P.md for the flows.
 *
 * - `POST /p2p/v1/tasks/:taskId/sync` (seed peers: the task's owners act as its tracker).
 * - `POST /p2p/v1/keys/changed` (every daemon; seed peers forward to holders).
 * - `GET  /p2p/v1/keys/current?bucket=&key=` (seed peers: the key's cluster-held version).
 * - `POST /p2p/v1/keys/flush` (every daemon: land the key's pending write-back now).
 * - `POST /p2p/v1/tasks/:taskId/import` (seed peers: fetch a version from the backend, 202).
 */
export const P2P_PREFIX = '/p2p/v1';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
/** A piece digest, or '' while the owner is still fetching that piece from the backend. */
const pieceDigest = z.union([sha256Hex, z.literal('')]);
const baseUrl = z.url({ protocol: /^https?$/ });

/** A daemon as other daemons reach it. */
export const nodeRefSchema = z.strictObject({
  /** Unique per daemon (`host.id`). */
  peerId: z.string().min(1).max(256),
  /** Base URL of its piece server, e.g. `http://10.0.1.7:65002`. */
  pieces: baseUrl,
});
export type NodeRef = z.infer<typeof nodeRefSchema>;

/** Object metadata of a version, as HEAD answers it (times ISO 8601). */
export const versionMetadataSchema = z.strictObject({
  contentLength: z.number().int().nonnegative(),
  etag: z.string(),
  /** `md5:<hex>` when known. */
  digest: z.string().optional(),
  contentType: z.string().optional(),
  contentDisposition: z.string().optional(),
  contentEncoding: z.string().optional(),
  contentLanguage: z.string().optional(),
  lastModified: z.string(),
});
export type VersionMetadata = z.infer<typeof versionMetadataSchema>;

/** A task's piece layout and metadata, as its tracker knows it. */
export const taskLayoutSchema = z.strictObject({
  taskId: sha256Hex,
  contentLength: z.number().int().nonnegative(),
  pieceSize: z.number().int().positive(),
  pieceCount: z.number().int().nonnegative(),
  /** One per piece; '' = not known yet (the owner's back-to-source has not reached it). */
  pieceDigests: z.array(pieceDigest),
  metadata: versionMetadataSchema,
  bucket: z.string(),
  key: z.string(),
});
export type TaskLayout = z.infer<typeof taskLayoutSchema>;

/**
 * `POST /p2p/v1/tasks/:taskId/sync`: announce what the caller holds and learn who holds what
 * (a BitTorrent-style tracker request). Long-polls: with `since`, the answer waits (up to
 * `waitMs`, at most 5 s) until the task's revision is past `since`.
 */
export const syncRequestSchema = z.strictObject({
  node: nodeRefSchema,
  /** Base64 PieceBitmap of the pieces the caller holds ('' = none or layout unknown). */
  have: z.string().max(200_000).default(''),
  /** Sent by a caller holding the whole task (its writer, a replica): the tracker adopts it. */
  layout: taskLayoutSchema.optional(),
  /** Where the task comes from: lets the owner fetch it from the backend (single flight). */
  source: z
    .strictObject({
      bucket: z.string().min(1),
      key: z.string().min(1),
      /** versionOf() of the backend object: `md5:<hex>` or `etag:<etag>`. */
      version: z.string().min(1),
    })
    .optional(),
  /** The revision the caller last saw: wait for a newer one (long poll). */
  since: z.number().int().nonnegative().optional(),
  waitMs: z.number().int().min(0).max(5_000).default(0),
});
export type SyncRequest = z.input<typeof syncRequestSchema>;

export const holderSchema = z.strictObject({
  node: nodeRefSchema,
  /** Base64 PieceBitmap over the layout's pieceCount. */
  have: z.string(),
});
export type Holder = z.infer<typeof holderSchema>;

export const syncResponseSchema = z.strictObject({
  /** Grows on every change of the task's layout or holders. */
  revision: z.number().int().nonnegative(),
  layout: taskLayoutSchema,
  /** Every known holder but the caller, the tracker itself included when it holds pieces. */
  holders: z.array(holderSchema),
  /** The owner's back-to-source of this task failed (message); retry later or elsewhere. */
  sourceError: z.string().optional(),
});
export type SyncResponse = z.infer<typeof syncResponseSchema>;

/**
 * `POST /p2p/v1/keys/changed`: `bucket/key` now names `current` (absent: it was deleted).
 * The receiver drops every other version of the key it holds (index entry, cached task,
 * downloads in flight, tracker entries). A seed peer with `forward: true` also sends the change
 * (`forward: false`) to every holder it tracks of the dropped versions, and remembers a pending
 * `current` until a `durable` change for the key arrives. Answers once forwards settle.
 */
export const keyChangeSchema = z.strictObject({
  bucket: z.string().min(1),
  key: z.string().min(1),
  current: z
    .strictObject({
      taskId: sha256Hex,
      /** pending: only the cluster holds it (mode 0 before write-back, mode 2). */
      state: z.enum(['pending', 'durable']),
      metadata: versionMetadataSchema,
      /** The writer, holding the whole task. */
      holder: nodeRefSchema,
    })
    .optional(),
  forward: z.boolean().default(false),
});
export type KeyChange = z.input<typeof keyChangeSchema>;

export const keyChangeResultSchema = z.strictObject({
  /** Cached versions this daemon dropped. */
  evicted: z.number().int().nonnegative(),
  /** Holders the change was forwarded to, and how many of them failed to answer. */
  forwarded: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
});
export type KeyChangeResult = z.infer<typeof keyChangeResultSchema>;

/** `GET /p2p/v1/keys/current`: 200 with the key's pending version, or 404 (the backend decides). */
export const currentVersionSchema = z.strictObject({
  taskId: sha256Hex,
  metadata: versionMetadataSchema,
  holder: nodeRefSchema,
});
export type CurrentVersion = z.infer<typeof currentVersionSchema>;

/** `POST /p2p/v1/keys/flush`: 200 once the key's pending write-back (if any) has landed. */
export const flushRequestSchema = z.strictObject({
  bucket: z.string().min(1),
  key: z.string().min(1),
});
export type FlushRequest = z.infer<typeof flushRequestSchema>;

/**
 * `POST /p2p/v1/tasks/:taskId/import`: a seed peer starts fetching this version from the backend
 * into its cache (202 at once; it becomes a replica). For objects written around the cluster,
 * e.g. by an upload session of the object API function.
 */
export const importRequestSchema = z.strictObject({
  bucket: z.string().min(1),
  key: z.string().min(1),
  /** versionOf() of the backend object: `md5:<hex>` or `etag:<etag>`. */
  version: z.string().min(1),
});
export type ImportRequest = z.infer<typeof importRequestSchema>;
