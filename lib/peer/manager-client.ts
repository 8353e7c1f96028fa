import * as z from 'zod';
import type { ObjectStorageInfo } from '../manager/object-storage-info.ts';
import {
  type Clock,
  type Logger,
  noopLogger,
  systemClock,
  systemTimers,
  type Timers,
} from '../storage/deps.ts';
import type { SeedPeer } from './replicator.ts';

/** A seed peer as the manager lists it, with the base URLs a peer talks to. */
export interface ManagedSeedPeer extends SeedPeer {
  /** Base URL of its piece server (Dragonfly's download port), e.g. `http://10.0.1.7:65002`. */
  readonly pieces: string;
  readonly hostname: string;
}

export interface ManagerSnapshot {
  readonly seedPeers: readonly ManagedSeedPeer[];
  readonly peerConfig: {
    readonly filter: string;
    readonly maxReplicas: number;
    readonly refreshIntervalMs: number;
  };
  readonly objectStorage: ObjectStorageInfo;
  /** Clock time (ms) of the refresh that produced this snapshot. */
  readonly fetchedAt: number;
}

/** `fetch`'s shape, narrowed to what the client uses (a Hono `app.request` fits too). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface ManagerClientOptions {
  /** Manager URL origins, tried in order on every refresh. */
  readonly netAddrs: readonly string[];
  /** Overrides the manager's `refreshInterval` (default: the manager's, else 600 s). */
  readonly refreshIntervalMs?: number;
  /** Delay before the next attempt after a failed refresh (default 10 s, capped by the interval). */
  readonly retryIntervalMs?: number;
  /** Per request, for the default fetch only (default 5 s). */
  readonly requestTimeoutMs?: number;
  readonly fetch?: FetchLike;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly logger?: Logger;
}

/** `previous` is the snapshot this one replaces (undefined on the first success). A listener
 * that throws is logged and does not stop the others. */
export type ManagerChangeListener = (
  snapshot: ManagerSnapshot,
  previous: ManagerSnapshot | undefined,
) => void;

export interface ManagerClient {
  /** First refresh, then one every refresh interval. Never rejects: see `snapshot()`. */
  start(): Promise<ManagerSnapshot | undefined>;
  /** Refreshes now (e.g. after a seed peer failed); joins a refresh already in flight. */
  refreshNow(): Promise<ManagerSnapshot | undefined>;
  /** The last good snapshot; undefined until a refresh has succeeded. */
  snapshot(): ManagerSnapshot | undefined;
  /** Called after a refresh whose seed-peer set, peer config or object storage differs from the
   * last good snapshot's (the first success included). Returns an unsubscribe function. */
  onChange(listener: ManagerChangeListener): () => void;
  /** Stops the timer and aborts requests in flight; their answers are dropped, listeners too. */
  close(): void;
}

export const DEFAULT_REFRESH_INTERVAL_MS = 600_000;

const seedPeersSchema = z.array(
  z.object({
    id: z.string().min(1),
    hostname: z.string(),
    ip: z.string().min(1),
    port: z.number().int().min(1).max(65_535),
    downloadPort: z.number().int().min(1).max(65_535),
    state: z.string().optional(),
  }),
);
const peerConfigSchema = z.object({
  filter: z.string(),
  maxReplicas: z.number().int().min(0),
  /** Seconds. */
  refreshInterval: z.number().positive(),
});
const objectStorageSchema = z.object({
  name: z.string().min(1),
  region: z.string(),
  endpoint: z.string(),
  s3ForcePathStyle: z.boolean(),
});

/**
 * The peer's view of the manager config endpoint (DESIGN.md §4, §6): seed peers, peer config and
 * object storage, refreshed every `refreshInterval` and on demand. All three documents of a
 * snapshot come from one manager, the first in `netAddrs` that answers all three well; a failed
 * or malformed answer fails that manager. When every manager fails the last good snapshot stays,
 * and one warning is logged per outage.
 */
export function createManagerClient(options: ManagerClientOptions): ManagerClient {
  if (options.netAddrs.length === 0) throw new Error('manager netAddrs is empty');
  const origins = options.netAddrs.map((addr) => addr.replace(/\/+$/, ''));
  const clock = options.clock ?? systemClock;
  const timers = options.timers ?? systemTimers;
  const logger = options.logger ?? noopLogger;
  const requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
  const doFetch: FetchLike =
    options.fetch ??
    ((input, init) => {
      const timeout = AbortSignal.timeout(requestTimeoutMs);
      const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
      return fetch(input, { ...init, signal });
    });
  const listeners = new Set<ManagerChangeListener>();
  const closer = new AbortController();
  let current: ManagerSnapshot | undefined;
  let inFlight: Promise<ManagerSnapshot | undefined> | undefined;
  let timer: unknown;
  let started = false;
  let inOutage = false;

  async function getJson<T>(origin: string, path: string, schema: z.ZodType<T>): Promise<T> {
    const res = await doFetch(`${origin}${path}`, {
      headers: { accept: 'application/json' },
      signal: closer.signal,
    });
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`GET ${path}: HTTP ${res.status}`);
    }
    const parsed = schema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) {
      const where = parsed.error.issues.map((issue) => issue.path.join('.') || '(root)');
      throw new Error(`GET ${path}: malformed response at ${[...new Set(where)].join(', ')}`);
    }
    return parsed.data;
  }

  async function fetchFrom(origin: string): Promise<ManagerSnapshot> {
    const [seedPeers, peerConfig, objectStorage] = await Promise.all([
      getJson(origin, '/api/v1/seed-peers', seedPeersSchema),
      getJson(origin, '/api/v1/peer-config', peerConfigSchema),
      getJson(origin, '/api/v1/object-storage', objectStorageSchema),
    ]);
    return {
      seedPeers: seedPeers
        .filter((peer) => peer.state === undefined || peer.state === 'active')
        .map((peer) => {
          // An IPv6 address needs brackets in a URL.
          const host = peer.ip.includes(':') ? `[${peer.ip}]` : peer.ip;
          return {
            id: peer.id,
            objectApi: `http://${host}:${peer.port}`,
            pieces: `http://${host}:${peer.downloadPort}`,
            hostname: peer.hostname,
          };
        }),
      peerConfig: {
        filter: peerConfig.filter,
        maxReplicas: peerConfig.maxReplicas,
        refreshIntervalMs: Math.round(peerConfig.refreshInterval * 1000),
      },
      objectStorage,
      fetchedAt: clock.now(),
    };
  }

  async function refresh(): Promise<ManagerSnapshot | undefined> {
    const failures: { manager: string; err: string }[] = [];
    for (const origin of origins) {
      if (closer.signal.aborted) return current;
      try {
        const next = await fetchFrom(origin);
        if (closer.signal.aborted) return current;
        accept(next, origin);
        return next;
      } catch (error) {
        failures.push({
          manager: origin,
          err: error instanceof Error ? error.message : `${error}`,
        });
      }
    }
    if (!inOutage && !closer.signal.aborted) {
      inOutage = true;
      logger.warn(
        { failures, hasSnapshot: current !== undefined },
        'no manager answered; keeping the last good config',
      );
    }
    return current;
  }

  function accept(next: ManagerSnapshot, origin: string): void {
    if (inOutage) logger.info({ manager: origin }, 'manager reachable again');
    inOutage = false;
    const previous = current;
    current = next;
    if (previous && contentKey(previous) === contentKey(next)) return;
    logger.info(
      { manager: origin, seedPeers: next.seedPeers.length, backend: next.objectStorage.name },
      'manager config changed',
    );
    for (const listener of [...listeners]) {
      try {
        listener(next, previous);
      } catch (error) {
        logger.error(
          { err: error instanceof Error ? error.message : `${error}` },
          'onChange threw',
        );
      }
    }
  }

  function schedule(succeeded: boolean): void {
    if (!started || closer.signal.aborted) return;
    if (timer !== undefined) timers.clearTimeout(timer);
    const interval =
      options.refreshIntervalMs ??
      current?.peerConfig.refreshIntervalMs ??
      DEFAULT_REFRESH_INTERVAL_MS;
    const delay = succeeded ? interval : Math.min(interval, options.retryIntervalMs ?? 10_000);
    timer = timers.setTimeout(() => {
      timer = undefined;
      void refreshNow();
    }, delay);
  }

  function refreshNow(): Promise<ManagerSnapshot | undefined> {
    if (inFlight) return inFlight;
    if (closer.signal.aborted) return Promise.resolve(current);
    inFlight = refresh().finally(() => {
      inFlight = undefined;
      schedule(!inOutage);
    });
    return inFlight;
  }

  return {
    start() {
      started = true;
      return refreshNow();
    },
    refreshNow,
    snapshot: () => current,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closer.abort();
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
      listeners.clear();
    },
  };
}

/** What decides a change: the seed-peer set (order aside), peer config and object storage. */
function contentKey(snapshot: ManagerSnapshot): string {
  const seedPeers = [...snapshot.seedPeers].sort((a, b) =>
    a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
  );
  return JSON.stringify([seedPeers, snapshot.peerConfig, snapshot.objectStorage]);
}
