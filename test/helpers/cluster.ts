import type { BackendConfigInput } from '../../lib/config/backend-config.ts';
import { DEFAULT_OBJECT_STORAGE_FILTER } from '../../lib/config/peer-config-schema.ts';
import { freePorts } from '../../lib/local/free-ports.ts';
import { type ManagerProcess, startManagerProcess } from './manager-process.ts';
import { deepMerge, type PeerDaemon, startPeerDaemon } from './peer-daemon.ts';

/**
 * A whole P2P cluster of real processes on 127.0.0.1 for integration tests: one manager
 * (bin/dfstore-manager.js) listing the seed peers by id, then the seed peers, then the peers
 * (bin/dfstore-daemon.js), every one with an explicit `host.id`, advertising 127.0.0.1 and
 * reading its config from the manager. Ports are allocated before anything starts, so the
 * manager's seed-peer list is right from the first refresh. Probes: cluster-probes.ts.
 */

export type NodeRole = 'seed-peer' | 'peer';

export interface ClusterOptions {
  /** The daemons' backend (e.g. S3 through a counting proxy). */
  readonly backend: BackendConfigInput;
  /** What the manager serves as object storage; default `backend`. */
  readonly managerBackend?: BackendConfigInput;
  readonly seedPeers: number;
  readonly peers: number;
  /** The manager's `peerConfig.maxReplicas`; default 3. */
  readonly maxReplicas?: number;
  /** The manager's `peerConfig.refreshInterval`; default '1s'. */
  readonly refreshInterval?: string;
  /** The manager's `peerConfig.filter`; default the schema's. */
  readonly filter?: string;
  /** Extra environment of one daemon (e.g. `DFSTORE_FAULT_CORRUPT_PIECES`). */
  readonly nodeEnv?: (role: NodeRole, index: number) => Record<string, string> | undefined;
  /** Deep-merged over one daemon's generated config. */
  readonly nodeConfig?: (role: NodeRole, index: number) => Record<string, unknown> | undefined;
  /** Daemons' log level; default 'info' (debug logs every piece). */
  readonly logLevel?: string;
  /** Names temp dirs and errors; default 'cluster'. */
  readonly name?: string;
}

/** A daemon of the cluster: a PeerDaemon with its identity. */
export interface ClusterNode extends PeerDaemon {
  /** `host.id`; for a seed peer, its id in the manager's list. */
  readonly id: string;
  readonly role: NodeRole;
  /** 0-based within its role. */
  readonly index: number;
}

export interface ClusterManager {
  readonly url: string;
  /** Stops the manager (SIGTERM); daemons keep their last good config. */
  stop(): Promise<void>;
  /** (Re)starts it on the same port, deep-merging `configOverride` (e.g. a new `backend`). */
  start(configOverride?: Record<string, unknown>): Promise<void>;
  readonly process: ManagerProcess;
}

export interface Cluster {
  readonly manager: ClusterManager;
  readonly seedPeers: readonly ClusterNode[];
  readonly peers: readonly ClusterNode[];
  /** The filter task IDs are computed with (the manager's). */
  readonly filter: string;
  /** Seed peers, then peers. */
  nodes(): ClusterNode[];
  /** Kills every process and removes the temp dirs. */
  dispose(): Promise<void>;
}

/**
 * Starts the cluster; once more (up to 3 tries) when a daemon lost its preallocated port to
 * another process in between (EADDRINUSE: the ports are chosen before the daemons bind them, as
 * the manager's seed-peer list needs them up front, and other suites start processes too).
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(options);
    } catch (error) {
      if (attempt >= 3 || !String((error as Error)?.message).includes('EADDRINUSE')) throw error;
    }
  }
}

async function startClusterOnce(options: ClusterOptions): Promise<Cluster> {
  const name = options.name ?? 'cluster';
  const filter = options.filter ?? DEFAULT_OBJECT_STORAGE_FILTER;
  const plan = [
    ...Array.from({ length: options.seedPeers }, (_, index) => ({
      role: 'seed-peer' as const,
      index,
      id: `${name}-seed-${index}`,
    })),
    ...Array.from({ length: options.peers }, (_, index) => ({
      role: 'peer' as const,
      index,
      id: `${name}-peer-${index}`,
    })),
  ];
  const [managerPort = 0, ...ports] = await freePorts(1 + 2 * plan.length);
  const nodes = plan.map((node, i) => ({
    ...node,
    apiPort: ports[2 * i] ?? 0,
    piecePort: ports[2 * i + 1] ?? 0,
  }));

  const managerProcess = await startManagerProcess({
    name: `${name}-manager`,
    port: managerPort,
    config: {
      backend: options.managerBackend ?? options.backend,
      seedPeers: nodes
        .filter((node) => node.role === 'seed-peer')
        .map((node) => ({
          id: node.id,
          hostname: node.id,
          ip: '127.0.0.1',
          port: node.apiPort,
          downloadPort: node.piecePort,
        })),
      peerConfig: {
        maxReplicas: options.maxReplicas ?? 3,
        refreshInterval: options.refreshInterval ?? '1s',
        filter,
      },
    },
  });
  const started: ClusterNode[] = [];
  const dispose = async () => {
    await Promise.all(started.map((node) => node.dispose()));
    await managerProcess.dispose();
  };

  const startNode = async (node: (typeof nodes)[number]): Promise<ClusterNode> => {
    const generated = {
      role: node.role,
      logLevel: options.logLevel ?? 'info',
      host: { id: node.id, advertiseIP: '127.0.0.1' },
      objectStorage: { tcpListen: { listen: '127.0.0.1', port: node.apiPort } },
      upload: { tcpListen: { listen: '127.0.0.1', port: node.piecePort } },
      manager: { netAddrs: [managerProcess.url] },
    };
    const daemon = await startPeerDaemon({
      name: node.id,
      backend: options.backend,
      extraConfig: deepMerge(generated, options.nodeConfig?.(node.role, node.index) ?? {}),
      env: options.nodeEnv?.(node.role, node.index),
      startTimeoutMs: 120_000,
    });
    const member = withIdentity(daemon, node);
    started.push(member);
    return member;
  };

  // Every start settles before a failure is thrown, so that dispose() finds every process.
  const startAll = async (role: NodeRole) => {
    const results = await Promise.allSettled(
      nodes.filter((node) => node.role === role).map(startNode),
    );
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    return results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  };

  try {
    // Seed peers first: a peer's first refresh then finds its trackers up.
    const seedPeers = await startAll('seed-peer');
    const peers = await startAll('peer');
    return {
      manager: {
        url: managerProcess.url,
        process: managerProcess,
        stop: async () => {
          await managerProcess.stop();
        },
        start: (configOverride) => managerProcess.start(configOverride),
      },
      seedPeers,
      peers,
      filter,
      nodes: () => [...seedPeers, ...peers],
      dispose,
    };
  } catch (error) {
    // Startup errors carry the failed daemon's log tail; the rest goes.
    await Promise.allSettled(started.map((node) => node.dispose()));
    await managerProcess.dispose();
    throw error;
  }
}

/**
 * The daemon with its identity added. The daemon's getters (pid, ready, exited) follow its
 * restarts, so they must not be copied: the identity is layered over the daemon by prototype.
 */
function withIdentity(
  daemon: PeerDaemon,
  identity: { id: string; role: NodeRole; index: number },
): ClusterNode {
  return Object.create(daemon, {
    id: { value: identity.id, enumerable: true },
    role: { value: identity.role, enumerable: true },
    index: { value: identity.index, enumerable: true },
  }) as ClusterNode;
}
