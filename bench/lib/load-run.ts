import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { type Cluster, startCluster } from '../../test/helpers/cluster.ts';
import { goMultipart, goPutParts } from '../../test/helpers/go-dfstore-wire.ts';
import {
  fdKinds,
  INSPECTOR_ENV,
  inspectorUrl,
  openFds,
  type ResourceSample,
  sampleResources,
} from './daemon-probes.ts';

/**
 * The load scenario of bench/load.ts and test/integration/load.test.ts: a local cluster
 * (manager, seed peers, peers; fs backend) under `connections` concurrent clients, spread over
 * the peers, each looping PUT → GET → HEAD → DELETE over its own 4 keys (mode 0, `objectSize`
 * bytes). Every non-2xx answer, transport error and GET body mismatch is an error. Before and
 * after: each daemon's open fds and its heap after a full GC.
 */

export interface LoadOptions {
  readonly seedPeers: number;
  readonly peers: number;
  readonly connections: number;
  readonly durationS: number;
  readonly objectSize: number;
  readonly log?: (line: string) => void;
}

export interface NodeResources {
  readonly node: string;
  readonly before: ResourceSample;
  readonly after: ResourceSample;
}

export interface LoadResult {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly errors: number;
  /** The first few errors, for diagnosis. */
  readonly errorSamples: readonly string[];
  readonly byMethod: Readonly<Record<string, number>>;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Seconds after the run until journals drained and fds were back (or the wait gave up). */
  readonly settleS: number;
  readonly nodes: readonly NodeResources[];
}

interface Probe {
  readonly name: string;
  readonly pid: number;
  readonly inspector: string;
  readonly metrics: string;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const log = options.log ?? (() => {});
  const root = await mkdtemp(join(tmpdir(), 'dfstore-load-'));
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({
      name: 'load',
      backend: { name: 'fs', root: join(root, 'backend') },
      seedPeers: options.seedPeers,
      peers: options.peers,
      maxReplicas: 1,
      nodeEnv: () => ({ ...INSPECTOR_ENV }),
    });
    const targets = cluster.peers.length > 0 ? cluster.peers : cluster.seedPeers;
    for (const peer of targets) await fetch(`${peer.api}/buckets/load`, { method: 'POST' });
    const probes: Probe[] = await Promise.all(
      cluster.nodes().map(async (node) => ({
        name: node.id,
        pid: node.pid,
        inspector: await inspectorUrl(node.logFile),
        metrics: node.metrics ?? node.pieces,
      })),
    );
    // fds of the idle cluster: the warm-up leaves idle keep-alive connections between daemons.
    const idleFds = await Promise.all(probes.map((probe) => openFds(probe.pid)));
    log(`cluster up: ${probes.length} daemons; warm-up: every key written twice`);
    await drive(
      targets.map((t) => t.api),
      options.connections,
      0,
      options.objectSize,
      2 * KEYS_PER_CONNECTION,
    );
    await settle(probes, undefined);
    const warm = await Promise.all(probes.map(sampleResources));
    const before = warm.map((sample, i) => ({ ...sample, fds: idleFds[i] ?? sample.fds }));
    log(`load: ${options.connections} connections for ${options.durationS} s`);
    const load = await drive(
      targets.map((t) => t.api),
      options.connections,
      options.durationS,
      options.objectSize,
    );
    log(`settling: ${load.requests} requests, ${load.errors} errors`);
    const settleMs = await settle(probes, before);
    const after = await Promise.all(probes.map(sampleResources));
    for (const [i, probe] of probes.entries()) {
      if ((after[i]?.fds ?? 0) > (before[i]?.fds ?? 0) + FD_SLACK) {
        log(`${probe.name} fds: ${JSON.stringify(await fdKinds(probe.pid))}`);
      }
    }
    return {
      ...load,
      requestsPerSecond: Math.round(load.requests / options.durationS),
      settleS: Math.round(settleMs / 1000),
      nodes: probes.map((probe, i) => ({
        node: probe.name,
        before: before[i] as ResourceSample,
        after: after[i] as ResourceSample,
      })),
    };
  } finally {
    await cluster?.dispose();
    await rm(root, { recursive: true, force: true });
  }
}

/**
 * Idle keep-alive connections between daemons (replication, pieces, key changes) live until the
 * server's keep-alive timeout (65 s, see lib/peer/http-listener.ts): a pool, not a leak, and
 * gone after this long.
 */
const KEEP_ALIVE_DRAIN_MS = 75_000;

/**
 * Waits until the daemons are idle: write-backs and replication drained (their journal
 * metric at 0) and, when `baseline` is given, fds back to it (plus slack), or gives up after
 * KEEP_ALIVE_DRAIN_MS.
 */
async function settle(
  probes: readonly Probe[],
  baseline: readonly ResourceSample[] | undefined,
): Promise<number> {
  const started = Date.now();
  const deadline = started + KEEP_ALIVE_DRAIN_MS;
  for (;;) {
    const pending = await Promise.all(probes.map((p) => journalPending(p.metrics)));
    const fds = await Promise.all(probes.map((p) => openFds(p.pid)));
    const fdsBack = !baseline || fds.every((n, i) => n <= (baseline[i]?.fds ?? 0) + FD_SLACK);
    if ((pending.every((n) => n === 0) && fdsBack) || Date.now() > deadline) {
      return Date.now() - started;
    }
    await sleep(250);
  }
}

async function journalPending(metrics: string): Promise<number> {
  const text = await (await fetch(`${metrics}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('dfstore_journal_pending'));
  return line ? Number(line.split(/\s+/).at(-1)) : 0;
}

/** Keys each connection cycles through. */
export const KEYS_PER_CONNECTION = 4;

interface DriveResult {
  readonly requests: number;
  readonly errors: number;
  readonly errorSamples: string[];
  readonly byMethod: Record<string, number>;
  readonly latencyMs: { p50: number; p99: number; max: number };
}

/** `connections` loops spread over `apis` for `durationS` seconds. */
export async function drive(
  apis: readonly string[],
  connections: number,
  durationS: number,
  objectSize: number,
  /** Run exactly this many PUT/GET/HEAD/DELETE cycles per connection instead of for durationS. */
  cycles?: number,
): Promise<DriveResult> {
  const pools = apis.map(
    (api) => new Pool(api, { connections: Math.ceil(connections / apis.length) }),
  );
  const data = randomBytes(objectSize);
  const { body, contentType } = goMultipart(goPutParts({ key: 'object', data, mode: 0 }));
  const latencies: number[] = [];
  const byMethod: Record<string, number> = {};
  const errorSamples: string[] = [];
  let errors = 0;
  const stopAt = Date.now() + durationS * 1000;
  const fail = (what: string) => {
    errors++;
    if (errorSamples.length < 10) errorSamples.push(what);
  };
  const send = async (pool: Pool, method: string, path: string, put: boolean) => {
    const started = performance.now();
    try {
      const response = await pool.request({
        method,
        path,
        headers: put ? { 'content-type': contentType } : {},
        body: put ? body : undefined,
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
      const received = Buffer.from(await response.body.arrayBuffer());
      latencies.push(performance.now() - started);
      byMethod[method] = (byMethod[method] ?? 0) + 1;
      if (response.statusCode !== 200) {
        fail(`${method} ${path}: ${response.statusCode} ${received.toString().slice(0, 200)}`);
      } else if (method === 'GET' && !received.equals(data)) {
        fail(`GET ${path}: body differs`);
      }
    } catch (error) {
      fail(`${method} ${path}: ${(error as Error).message}`);
    }
  };
  const loop = async (index: number) => {
    const pool = pools[index % pools.length] as Pool;
    for (let cycle = 0; cycles === undefined ? Date.now() < stopAt : cycle < cycles; cycle++) {
      // A working set of KEYS_PER_CONNECTION keys per connection, overwritten and deleted over
      // and over: per-key bookkeeping (bounded maps, TTLs) is built in the warm-up.
      const path = `/buckets/load/objects/c${index}/k${cycle % KEYS_PER_CONNECTION}`;
      await send(pool, 'PUT', path, true);
      await send(pool, 'GET', path, false);
      await send(pool, 'HEAD', path, false);
      await send(pool, 'DELETE', path, false);
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, i) => loop(i)));
  await Promise.all(pools.map((pool) => pool.close()));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.floor(q * (latencies.length - 1))] ?? 0);
  return {
    requests: latencies.length + errors,
    errors,
    errorSamples,
    byMethod,
    latencyMs: { p50: at(0.5), p99: at(0.99), max: Math.round(latencies.at(-1) ?? 0) },
  };
}

/** Fd slack after a run: files opened lazily by the first writes (journal, index segments). */
export const FD_SLACK = 4;
export const MAX_HEAP_GROWTH = 0.2;

/** The tables bench/load.ts prints: one summary row, one row per daemon. */
export function formatLoadRows(result: LoadResult, connections: number, durationS: number) {
  const MiB = 1024 * 1024;
  const summary = [
    {
      connections,
      'duration s': durationS,
      requests: result.requests,
      'requests/s': result.requestsPerSecond,
      errors: result.errors,
      'p50 ms': result.latencyMs.p50,
      'p99 ms': result.latencyMs.p99,
      'max ms': result.latencyMs.max,
      'settled after s': result.settleS,
    },
  ];
  const nodes = result.nodes.map((n) => {
    const growth = (n.after.heapBytes - n.before.heapBytes) / n.before.heapBytes;
    return {
      daemon: n.node,
      'fds before': n.before.fds,
      'fds after': n.after.fds,
      'fds ok': n.after.fds <= n.before.fds + FD_SLACK ? 'yes' : 'no',
      'heap before MiB': (n.before.heapBytes / MiB).toFixed(1),
      'heap after MiB': (n.after.heapBytes / MiB).toFixed(1),
      'heap growth %': (growth * 100).toFixed(1),
      'heap ok': growth < MAX_HEAP_GROWTH ? 'yes' : 'no',
    };
  });
  return { summary, nodes };
}
