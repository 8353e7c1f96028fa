import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleEntry } from './bundle.ts';
import { type BundledDaemon, startBundledDaemon } from './bundled-daemon.ts';
import { type LineProcess, startLineProcess } from './line-process.ts';
import { createNetwork, inNamespace, type NetHost, type Network } from './netns.ts';
import type { S3HostOptions, S3HostReady } from './netns-s3-main.ts';

/**
 * A dfstore cluster spread over network namespaces (bench/lib/netns.ts), one host each, every
 * link shaped alike: the S3 server (Ceph RGW behind a GET-counting proxy), the manager, the
 * seed peers and the peers. Every daemon and the manager run bundled on plain node, listening on
 * their host's address; each daemon's host also runs a worker (bench/lib/netns-worker.ts), the
 * client that reads from that host. Ports are fixed: every host has an address of its own.
 */

const here = dirname(fileURLToPath(import.meta.url));
const API_PORT = 65004;
const PIECE_PORT = 65002;
const MANAGER_PORT = 65003;
const S3_PORT = 9000;
const BOOT_TIMEOUT_MS = 5 * 60_000;

export interface WorkerGet {
  readonly status: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly seconds: number;
  readonly firstByteSeconds: number;
}

export interface Member {
  readonly label: string;
  readonly role: 'seed-peer' | 'peer';
  readonly host: NetHost;
  readonly daemon: BundledDaemon;
  /** The object API as the host's own clients reach it (over its loopback). */
  readonly api: string;
  readonly worker: LineProcess<{ ready: true }>;
}

export interface NetnsClusterOptions {
  readonly peers: number;
  readonly seedPeers: number;
  readonly rateMbit: number;
  readonly size: number;
  readonly digest: boolean;
  readonly bucket: string;
  readonly key: string;
  /** Temp dir of every process's config, data and log. */
  readonly scratch: string;
  /** Node flags of every daemon (e.g. `--cpu-prof`). */
  readonly daemonNodeArgs?: readonly string[];
  readonly logLevel?: string;
}

export interface NetnsCluster {
  readonly network: Network;
  readonly s3: LineProcess<S3HostReady>;
  readonly seedPeers: readonly Member[];
  readonly peers: readonly Member[];
}

/** Stops are pushed onto `stops` as things start: run them last-first to clean up. */
export async function startNetnsCluster(
  options: NetnsClusterOptions,
  stops: (() => Promise<unknown>)[],
  progress: (message: string) => void,
): Promise<NetnsCluster> {
  const seedLabels = Array.from({ length: options.seedPeers }, (_, i) => `seed-${i}`);
  const peerLabels = Array.from({ length: options.peers }, (_, i) => `peer-${i}`);
  const [daemonBundle, managerBundle] = await Promise.all([
    bundleEntry(join(here, '..', '..', 'lib', 'peer', 'main.ts'), {
      minify: !options.daemonNodeArgs?.some((arg) => arg.startsWith('--cpu-prof')),
    }),
    bundleEntry(join(here, '..', '..', 'lib', 'manager', 'main.ts')),
  ]);
  for (const bundle of [daemonBundle, managerBundle]) {
    stops.push(async () => rmSync(dirname(bundle), { recursive: true, force: true }));
  }
  const network = await createNetwork(
    ['s3', 'manager', ...seedLabels, ...peerLabels],
    options.rateMbit,
  );
  stops.push(() => network.destroy());
  progress(`network: ${network.hosts.length} hosts + router, ${options.rateMbit} Mbit/s links`);

  const dirOf = (label: string) => {
    const dir = join(options.scratch, label);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const s3Host = network.host('s3');
  const s3Options: S3HostOptions = {
    listen: s3Host.ip,
    port: S3_PORT,
    bucket: options.bucket,
    key: options.key,
    size: options.size,
    digest: options.digest,
  };
  const s3 = await startLineProcess<S3HostReady>({
    argv: [
      ...inNamespace(s3Host.ns),
      process.execPath,
      ...['--import', 'tsx', join(here, 'netns-s3-main.ts'), JSON.stringify(s3Options)],
    ],
    logFile: join(dirOf('s3'), 's3.log'),
    startTimeoutMs: BOOT_TIMEOUT_MS,
    deathSignal: 'SIGTERM', // it stops Ceph on the way out
  });
  stops.push(() => s3.stop('SIGTERM', 60_000));
  progress(
    `S3: Ceph RGW up in ${s3.ready.startSeconds.toFixed(1)} s, object written in ` +
      `${s3.ready.putSeconds.toFixed(1)} s, at ${s3.ready.endpoint}`,
  );
  const backend = {
    name: 's3',
    endpoint: s3.ready.endpoint,
    region: s3.ready.region,
    forcePathStyle: true,
    accessKeyId: s3.ready.accessKeyId,
    secretAccessKey: s3.ready.secretAccessKey,
  };

  const managerHost = network.host('manager');
  const manager = await startBundledDaemon({
    bundle: managerBundle,
    dir: dirOf('manager'),
    prefix: inNamespace(managerHost.ns),
    config: {
      logLevel: 'info',
      listen: managerHost.ip,
      port: MANAGER_PORT,
      backend,
      seedPeers: seedLabels.map((label) => ({
        id: label,
        hostname: label,
        ip: network.host(label).ip,
        port: API_PORT,
        downloadPort: PIECE_PORT,
      })),
      peerConfig: { refreshInterval: '1s' },
    },
  });
  stops.push(() => manager.kill());

  const startMember = async (label: string, role: Member['role']): Promise<Member> => {
    const host = network.host(label);
    const dir = dirOf(label);
    const daemon = await startBundledDaemon({
      bundle: daemonBundle,
      dir,
      prefix: inNamespace(host.ns),
      nodeArgs: options.daemonNodeArgs,
      config: {
        role,
        logLevel: options.logLevel ?? 'info',
        shutdownTimeout: '10s',
        host: { id: label, advertiseIP: host.ip },
        objectStorage: { tcpListen: { listen: host.ip, port: API_PORT } },
        upload: { tcpListen: { listen: host.ip, port: PIECE_PORT } },
        storage: { dataDir: join(dir, 'data'), capacity: 2 * options.size + 2 ** 30 },
        manager: { netAddrs: [`http://${managerHost.ip}:${MANAGER_PORT}`] },
        backend,
      },
    });
    // A graceful stop first, so that --cpu-prof profiles get written.
    stops.push(() => daemon.stop(15_000));
    const worker = await startLineProcess<{ ready: true }>({
      argv: [
        ...inNamespace(host.ns),
        process.execPath,
        ...['--import', 'tsx', join(here, 'netns-worker.ts')],
      ],
      logFile: join(dir, 'worker.log'),
      startTimeoutMs: 60_000,
    });
    stops.push(() => worker.stop());
    return { label, role, host, daemon, api: `http://${host.ip}:${API_PORT}`, worker };
  };
  // Seed peers first (as the manager lists them), then the peers; each group in parallel, and
  // every start settles before a failure is thrown, so that cleanup finds every process.
  const startAll = async (labels: string[], role: Member['role']) => {
    const results = await Promise.allSettled(labels.map((label) => startMember(label, role)));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    return results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  };
  const seedPeers = await startAll(seedLabels, 'seed-peer');
  const peers = await startAll(peerLabels, 'peer');
  progress(`cluster: manager, ${seedPeers.length} seed peer(s), ${peers.length} peers ready`);
  return { network, s3, seedPeers, peers };
}
