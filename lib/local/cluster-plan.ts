import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_MANAGER_PORT } from '../config/manager-config.ts';
import { DEFAULT_API_PORT, DEFAULT_PIECE_PORT } from '../config/peer-config-schema.ts';

/**
 * What `npm start` runs, decided without I/O: names, roles, ids, ports, directories, the
 * functions' and each daemon's environment. lib/local/start.ts carries it out.
 *
 * Fixed ports (127.0.0.1), so that a developer's tools keep working across restarts:
 *
 * | process                        | object API          | piece server (/metrics) |
 * |--------------------------------|---------------------|-------------------------|
 * | manager (function host)        | 65003               |                         |
 * | peer-1                         | 65004 (CLI default) | 65002                   |
 * | peer-j, j = 2..16              | 65060 + j           | 65080 + j               |
 * | seed-peer-i, 1..16             | 65020 + i           | 65040 + i               |
 * | objects (function host)        | 65100               |                         |
 * | fs presigned URLs (in-process) | 65101               |                         |
 *
 * e.g. seed-peer-1 = 65021 / 65041, peer-2 = 65062 / 65082. Every daemon port stays below 65100
 * (the object API function's). With `DFSTORE_PORTS=ephemeral` the caller passes free ports
 * instead (tests, or a second cluster beside a running one); the ready lines and the banner show
 * them.
 *
 * The manager runs as its Lambda handler (functions/manager.ts) served by the local function
 * host (function-host.ts), configured through the environment as on AWS (config/manager-env.ts).
 */

export const MAX_SEED_PEERS = 16;
export const MAX_PEERS = 16;
/** How often daemons re-read the manager's config in the local cluster. */
export const LOCAL_REFRESH_INTERVAL = '30s';
export const LOOPBACK = '127.0.0.1';
/** The object API function's local port (DESIGN.md §1). */
export const OBJECTS_FUNCTION_PORT = 65100;
/** Serves the fs backend's presigned URLs (what S3 does for the function's redirects). */
export const PRESIGN_PORT = 65101;

export type NodeRole = 'seed-peer' | 'peer';

export interface StartOptions {
  readonly seedPeers: number;
  readonly peers: number;
}

export interface PlannedNode {
  /** `seed-peer-<i>` / `peer-<j>`; also its id (`host.id`), data dir and log file name. */
  readonly name: string;
  readonly role: NodeRole;
  /** 1-based, within its role. */
  readonly index: number;
  readonly id: string;
  readonly apiPort: number;
  readonly piecePort: number;
  readonly dataDir: string;
  readonly logFile: string;
}

export interface ClusterPlan {
  readonly home: string;
  /** The fs backend every process shares (a daemon's default: `backend/` beside its data dir). */
  readonly backendDir: string;
  readonly logsDir: string;
  /** The manager function, served by the local function host. */
  readonly manager: PlannedFunction & { readonly name: 'manager' };
  /** The object API function, served by the local function host (65100). */
  readonly objectsFunction: PlannedFunction & { readonly name: 'objects' };
  /** The fs backend's presigned URLs (65101): large GETs and upload-session parts go there. */
  readonly presignPort: number;
  readonly seedPeers: readonly PlannedNode[];
  readonly peers: readonly PlannedNode[];
}

/** A Lambda handler served over HTTP by bin/dfstore-function-host.js. */
export interface PlannedFunction {
  readonly name: string;
  readonly port: number;
  /** The handler module, relative to the repository root. */
  readonly handler: string;
  readonly logFile: string;
}

/** A bad command line; the message is for the user. */
export class UsageError extends Error {
  override readonly name = 'UsageError' as const;
}

export const USAGE = `usage: npm start -- [--seed-peers N] [--peers M]
  --seed-peers N   seed peers (trackers and replica owners), 0..${MAX_SEED_PEERS}, default 1
  --peers M        peers, 1..${MAX_PEERS}, default 1 (peer-1 serves the CLI's default endpoint)
environment: DFSTORE_HOME (state dir, default ./.dfstore), DFSTORE_PORTS=ephemeral (free ports),
  DFSTORE_LOG_LEVEL`;

/** `npm start -- --seed-peers 2 --peers 3`; `help` when `-h`/`--help` was given. */
export function parseStartArgs(args: readonly string[]): StartOptions & { help: boolean } {
  let values: { 'seed-peers'?: string; peers?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        'seed-peers': { type: 'string' },
        peers: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return {
    seedPeers: count('--seed-peers', values['seed-peers'], 1, 0, MAX_SEED_PEERS),
    peers: count('--peers', values.peers, 1, 1, MAX_PEERS),
    help: values.help === true,
  };
}

function count(
  flag: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
) {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max)) {
    throw new UsageError(`${flag} must be an integer ${min}..${max}, not ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * Ports `planCluster` takes from a `ports` list, in order: manager, seed peers, peers, then the
 * objects function and the presigned-URL server.
 */
export function portsNeeded(options: StartOptions): number {
  return 3 + 2 * (options.seedPeers + options.peers);
}

/**
 * The cluster under `home`. Without `ports`, the fixed layout above; with them (at least
 * `portsNeeded`), the manager takes the first, then each seed peer and each peer two (API,
 * pieces).
 */
export function planCluster(
  home: string,
  options: StartOptions,
  ports?: readonly number[],
): ClusterPlan {
  if (ports && ports.length < portsNeeded(options)) {
    throw new RangeError(`${portsNeeded(options)} ports needed, ${ports.length} given`);
  }
  const logsDir = join(home, 'logs');
  let next = 1;
  const take = (fixed: number) => (ports ? (ports[next++] as number) : fixed);
  const node = (role: NodeRole, index: number): PlannedNode => {
    const name = `${role}-${index}`;
    const [api, pieces] = role === 'seed-peer' ? fixedSeedPeerPorts(index) : fixedPeerPorts(index);
    return {
      name,
      role,
      index,
      id: name,
      apiPort: take(api),
      piecePort: take(pieces),
      dataDir: join(home, name),
      logFile: join(logsDir, `${name}.log`),
    };
  };
  return {
    home,
    backendDir: join(home, 'backend'),
    logsDir,
    manager: {
      name: 'manager',
      port: ports?.[0] ?? DEFAULT_MANAGER_PORT,
      handler: 'functions/manager.ts',
      logFile: join(logsDir, 'manager.log'),
    },
    objectsFunction: {
      name: 'objects',
      port: ports?.[portsNeeded(options) - 2] ?? OBJECTS_FUNCTION_PORT,
      handler: 'functions/objects.ts',
      logFile: join(logsDir, 'objects.log'),
    },
    presignPort: ports?.[portsNeeded(options) - 1] ?? PRESIGN_PORT,
    seedPeers: range(options.seedPeers).map((i) => node('seed-peer', i)),
    peers: range(options.peers).map((j) => node('peer', j)),
  };
}

function fixedSeedPeerPorts(i: number): [number, number] {
  return [65020 + i, 65040 + i];
}

function fixedPeerPorts(j: number): [number, number] {
  return j === 1 ? [DEFAULT_API_PORT, DEFAULT_PIECE_PORT] : [65060 + j, 65080 + j];
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/**
 * The manager function's environment (config/manager-env.ts): the shared fs backend and the seed
 * peers by id. Every variable it reads is set here (empty: unset, i.e. the default), so that
 * none leaks in from the developer's shell; only DFSTORE_LOG_LEVEL is left to the caller.
 */
export function managerFunctionEnvOf(plan: ClusterPlan): Record<string, string> {
  const seedPeers = plan.seedPeers.map((seedPeer) => ({
    id: seedPeer.id,
    hostname: seedPeer.name,
    ip: LOOPBACK,
    port: seedPeer.apiPort,
    downloadPort: seedPeer.piecePort,
  }));
  return {
    DFSTORE_BACKEND: JSON.stringify({ name: 'fs', root: plan.backendDir }),
    DFSTORE_SEED_PEERS: JSON.stringify(seedPeers),
    DFSTORE_CLOUDMAP_NAMESPACE: '',
    DFSTORE_CLOUDMAP_SERVICE: '',
    DFSTORE_CLOUDMAP_CACHE_TTL: '',
    DFSTORE_MAX_REPLICAS: '',
    DFSTORE_FILTER: '',
    DFSTORE_REFRESH_INTERVAL: LOCAL_REFRESH_INTERVAL,
  };
}

/**
 * The objects function's environment (config/objects-function-env.ts): the shared fs backend with
 * presigned URLs served on `presignPort`, the seed peers, and the API token clients present.
 */
export function objectsFunctionEnvOf(
  plan: ClusterPlan,
  secrets: { readonly presignSecret: string; readonly apiToken: string },
): Record<string, string> {
  const manager = managerFunctionEnvOf(plan);
  return {
    DFSTORE_BACKEND: JSON.stringify({
      name: 'fs',
      root: plan.backendDir,
      presign: { baseUrl: `http://${LOOPBACK}:${plan.presignPort}`, secret: secrets.presignSecret },
    }),
    DFSTORE_SEED_PEERS: manager.DFSTORE_SEED_PEERS ?? '[]',
    DFSTORE_CLOUDMAP_NAMESPACE: '',
    DFSTORE_CLOUDMAP_SERVICE: '',
    DFSTORE_CLOUDMAP_CACHE_TTL: '',
    DFSTORE_AUTH: 'token',
    DFSTORE_API_TOKEN: secrets.apiToken,
    DFSTORE_API_TOKEN_SECRET_ARN: '',
    DFSTORE_INLINE_LIMIT: '',
    DFSTORE_MAX_REPLICAS: '',
    DFSTORE_FILTER: '',
  };
}

/** The function host's command line for `fn` (lib/local/function-host-main.ts). */
export function functionHostArgs(fn: PlannedFunction, repoRoot: string): string[] {
  return [
    '--handler',
    join(repoRoot, fn.handler),
    '--name',
    fn.name,
    '--listen',
    LOOPBACK,
    '--port',
    String(fn.port),
  ];
}

/**
 * A daemon's environment (lib/config/peer-config.ts ENV_OVERRIDES). The backend is left to the
 * default, `backend/` beside the data dir: the shared `<home>/backend`.
 */
export function daemonEnvOf(plan: ClusterPlan, node: PlannedNode): Record<string, string> {
  return {
    DFSTORE_ROLE: node.role,
    DFSTORE_PEER_ID: node.id,
    DFSTORE_ADVERTISE_IP: LOOPBACK,
    DFSTORE_DATA_DIR: node.dataDir,
    DFSTORE_API_LISTEN: LOOPBACK,
    DFSTORE_API_PORT: String(node.apiPort),
    DFSTORE_PIECE_LISTEN: LOOPBACK,
    DFSTORE_PIECE_PORT: String(node.piecePort),
    DFSTORE_MANAGER_ADDRS: `${LOOPBACK}:${plan.manager.port}`,
  };
}
