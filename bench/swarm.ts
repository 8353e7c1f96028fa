// N peers GET one object at once through the P2P swarm, each host behind its own rate-limited
// link (network namespaces + tc tbf, both directions), against the same N fetching it straight
// from the S3 server over the same links. Needs root. See BENCHMARKS.md ("Swarm").
// Usage: npm run bench -- swarm [--peers 8] [--seed-peers 1] [--rate 100] [--size 256]
//        [--no-digest] [--no-baseline] [--cpu-prof] [--keep]

import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureCephInstalled } from '../test/helpers/ceph-rgw.ts';
import { tailFiles } from '../test/helpers/daemon.ts';
import { metricValue } from '../test/helpers/prometheus-text.ts';
import { netnsUnavailable, sweepStaleNetworks } from './lib/netns.ts';
import {
  type Member,
  type NetnsCluster,
  startNetnsCluster,
  type WorkerGet,
} from './lib/netns-cluster.ts';
import type { GetCounts } from './lib/netns-s3-main.ts';
import { MiB, printTable, type Row, writeResults } from './lib/report.ts';
import {
  machineCpu,
  namespaceCpu,
  reachedAt,
  type SwarmSample,
  sampleSwarm,
} from './lib/swarm-probes.ts';

const USAGE =
  'usage: npm run bench -- swarm [--peers N (1..16, default 8)] [--seed-peers N (1..4, default 1)]\n' +
  '  [--rate Mbit/s (default 100)] [--size MiB (default 256)] [--no-digest] [--no-baseline]\n' +
  '  [--cpu-prof (daemons write .cpuprofile files, kept with --keep)] [--keep (keep logs)]\n' +
  '  [--log-level info (debug logs every piece)]';
const { values: flags } = (() => {
  try {
    return parseArgs({
      args: process.argv.slice(2),
      options: {
        peers: { type: 'string', default: '8' },
        'seed-peers': { type: 'string', default: '1' },
        rate: { type: 'string', default: '100' },
        size: { type: 'string', default: '256' },
        'no-digest': { type: 'boolean', default: false },
        'no-baseline': { type: 'boolean', default: false },
        'cpu-prof': { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        'log-level': { type: 'string', default: 'info' },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
})();
const peers = Number(flags.peers);
const seedPeers = Number(flags['seed-peers']);
const rateMbit = Number(flags.rate);
const sizeMiB = Number(flags.size);
if (
  !(Number.isInteger(peers) && peers >= 1 && peers <= 16) ||
  !(Number.isInteger(seedPeers) && seedPeers >= 1 && seedPeers <= 4) ||
  !(rateMbit > 0 && rateMbit <= 10_000) ||
  !(sizeMiB > 0 && sizeMiB <= 4096)
) {
  console.error(USAGE);
  process.exit(2);
}
const unavailable = netnsUnavailable();
if (unavailable) {
  console.error(`swarm bench: ${unavailable}`);
  process.exit(1);
}

const size = Math.round(sizeMiB * MiB);
const digest = !flags['no-digest'];
/** Seconds one host needs for the object at its link rate: nobody can do better. */
const perHostBound = (size * 8) / (rateMbit * 1e6);
const GOALS = { backToSource: 1.0, boundRatio: 1.25, speedup: 4 };
const BUCKET = 'bench-swarm';
const KEY = 'swarm/object.bin';

const scratch = mkdtempSync(join(tmpdir(), 'dfstore-bench-swarm-'));
const stops: (() => Promise<unknown>)[] = [];
let cleaning: Promise<void> | undefined;
let interrupted = false;
/** Idempotent: stops everything started so far (last first), deletes namespaces and temp dirs. */
const cleanup = () => {
  cleaning ??= (async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    if (flags.keep) console.error(`kept logs in ${scratch}`);
    else rmSync(scratch, { recursive: true, force: true });
  })();
  return cleaning;
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping every process and deleting the namespaces`);
    void cleanup().then(() => process.exit(130));
  });
}
const progress = (message: string) => console.error(`[swarm] ${message}`);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

interface Phase {
  readonly name: string;
  readonly seconds: number[];
  readonly max: number;
  readonly median: number;
  /** GET body bytes the S3 server sent during the phase (the counting proxy). */
  readonly serverBytes: number;
  readonly serverGets: number;
  /** Share of the machine's CPU time busy (everything on it, other work included). */
  readonly cpuBusy: number;
  /** CPU seconds used by the bench's processes, per role: s3 (Ceph + proxy), seed, peers. */
  readonly cpuSeconds: Record<string, { user: number; system: number }>;
  /** The daemons' counters every second (P2P phase only). */
  readonly timeline?: SwarmSample[];
}

/** Every peer's worker GETs its `url` at once; checks every body; counts on the S3 side. */
async function phase(
  cluster: NetnsCluster,
  name: string,
  url: (m: Member) => string,
  timeline = false,
) {
  const counts = () => cluster.s3.call<GetCounts>({ op: 'counts' });
  const namespaces = cluster.network.hosts.map((host) => host.ns);
  const before = await counts();
  const nsBefore = await namespaceCpu(namespaces);
  const sampler = timeline
    ? await sampleSwarm([...cluster.seedPeers, ...cluster.peers])
    : undefined;
  const cpuBefore = machineCpu();
  progress(`${name}: ${cluster.peers.length} GETs at once`);
  const results = await Promise.all(
    cluster.peers.map((m) => m.worker.call<WorkerGet>({ op: 'get', url: url(m) })),
  );
  const cpuAfter = machineCpu();
  const samples = await sampler?.stop();
  const nsAfter = await namespaceCpu(namespaces);
  const after = await counts();
  const cpuSeconds: Record<string, { user: number; system: number }> = {};
  for (const host of cluster.network.hosts) {
    for (const kind of ['server', 'client'] as const) {
      const a = nsBefore.find((p) => p.ns === host.ns && p.kind === kind);
      const b = nsAfter.find((p) => p.ns === host.ns && p.kind === kind);
      const used = {
        user: (b?.user ?? 0) - (a?.user ?? 0),
        system: (b?.system ?? 0) - (a?.system ?? 0),
      };
      if (used.user + used.system < 0.05) continue;
      const role = `${host.label.replace(/-\d+$/, '')}${kind === 'client' ? ' clients' : ''}`;
      const sum = cpuSeconds[role] ?? { user: 0, system: 0 };
      sum.user += used.user;
      sum.system += used.system;
      cpuSeconds[role] = sum;
    }
  }
  results.forEach((r, i) => {
    const who = cluster.peers[i]?.label;
    if (r.status !== 200 || r.bytes !== size || r.sha256 !== cluster.s3.ready.sha256) {
      throw new Error(
        `${name}: ${who} got status ${r.status}, ${r.bytes} bytes, sha256 ${r.sha256}`,
      );
    }
  });
  const seconds = results.map((r) => r.seconds);
  const result: Phase = {
    name,
    seconds,
    max: Math.max(...seconds),
    median: median(seconds),
    serverBytes: after.getBytes - before.getBytes,
    serverGets: after.gets - before.gets,
    cpuBusy: (cpuAfter.busy - cpuBefore.busy) / (cpuAfter.total - cpuBefore.total),
    cpuSeconds,
    timeline: samples,
  };
  progress(
    `${name}: max ${result.max.toFixed(1)} s, median ${result.median.toFixed(1)} s, ` +
      `server sent ${(result.serverBytes / size).toFixed(2)}× the object`,
  );
  return result;
}

/** Each daemon's metrics (read by its own host's worker). */
async function scrape(members: readonly Member[]): Promise<Map<string, string>> {
  const texts = await Promise.all(
    members.map((m) =>
      m.worker.call<{ text: string }>({ op: 'text', url: `${m.daemon.pieces}/metrics` }),
    ),
  );
  return new Map(members.map((m, i) => [m.label, texts[i]?.text ?? '']));
}

const delta = (
  before: Map<string, string>,
  after: Map<string, string>,
  label: string,
  name: string,
  labels = {},
) =>
  metricValue(after.get(label) ?? '', name, labels) -
  metricValue(before.get(label) ?? '', name, labels);

const x = (value: number) => `${value.toFixed(2)}×`;
const s = (value: number) => value.toFixed(1);
const met = (ok: boolean) => (ok ? 'met' : 'missed');

let cluster: NetnsCluster | undefined;
try {
  await ensureCephInstalled();
  const stale = await sweepStaleNetworks();
  if (stale.length > 0) progress(`removed stale namespaces: ${stale.join(', ')}`);
  const loadAtStart = loadavg();
  cluster = await startNetnsCluster(
    {
      peers,
      seedPeers,
      rateMbit,
      size,
      digest,
      bucket: BUCKET,
      key: KEY,
      scratch,
      logLevel: flags['log-level'],
      daemonNodeArgs: flags['cpu-prof']
        ? ['--cpu-prof', `--cpu-prof-dir=${join(scratch, 'profiles')}`]
        : [],
    },
    stops,
    progress,
  );
  const c = cluster;
  const daemons = [...c.seedPeers, ...c.peers];
  const objectPath = `/buckets/${BUCKET}/objects/${KEY}`;

  const metricsBefore = await scrape(daemons);
  const p2p = await phase(c, 'P2P swarm', (m) => `${m.api}${objectPath}`, true);
  const metricsAfter = await scrape(daemons);
  const sum = (labels: readonly string[], name: string, l = {}) =>
    labels.reduce((total, label) => total + delta(metricsBefore, metricsAfter, label, name, l), 0);
  const labels = daemons.map((m) => m.label);
  const backToSourceMetric = sum(labels, 'dfstore_back_to_source_bytes_total');
  const seedServed = sum(
    c.seedPeers.map((m) => m.label),
    'dfstore_bytes_sent_total',
    { server: 'pieces' },
  );
  const p2pBytes = sum(labels, 'dfstore_p2p_bytes_total');
  const pieceFailures = sum(labels, 'dfstore_p2p_piece_failures_total');

  const direct = flags['no-baseline']
    ? undefined
    : await phase(c, 'direct from S3', () => c.s3.ready.presignedGet);

  const boundRatio = p2p.max / perHostBound;
  const speedup = direct ? direct.max / p2p.max : undefined;
  const row = (p: Phase): Row => ({
    mode: p.name,
    peers,
    'max (s)': s(p.max),
    'median (s)': s(p.median),
    'per-host bound (s)': s(perHostBound),
    'max / bound': x(p.max / perHostBound),
    'back-to-source / size': x(p.serverBytes / size),
    'S3 GETs': p.serverGets,
    'CPU busy': `${(p.cpuBusy * 100).toFixed(0)} %`,
    speedup: p === p2p && speedup !== undefined ? x(speedup) : p === direct ? '1.00×' : '',
  });
  const rows = [row(p2p), ...(direct ? [row(direct)] : [])];
  const goals: Row[] = [
    {
      goal: 'back-to-source = 1.00× object size',
      value: `${x(p2p.serverBytes / size)} (server), ${x(backToSourceMetric / size)} (daemon metrics)`,
      status: met(Math.abs(p2p.serverBytes / size - GOALS.backToSource) < 0.005),
    },
    {
      goal: `completion ≤ ${GOALS.boundRatio}× the per-host bound`,
      value: x(boundRatio),
      status: met(boundRatio <= GOALS.boundRatio),
    },
    {
      goal: `≥ ${GOALS.speedup}× faster than direct${peers === 8 ? '' : ' (set for N=8)'}`,
      value: speedup === undefined ? 'not run' : x(speedup),
      status: speedup === undefined ? 'not run' : met(speedup >= GOALS.speedup),
    },
  ];

  await cleanup();
  console.log(
    `\nswarm: ${peers} peers, ${seedPeers} seed peer(s), one ${sizeMiB} MiB object ` +
      `(${digest ? 'with' : 'without'} dfstore's digest metadata), every host behind a ` +
      `${rateMbit} Mbit/s link each way; ${cpus().length} CPUs, ` +
      `${(totalmem() / 2 ** 30).toFixed(1)} GiB, kernel ${release()}, load average at start ` +
      `${loadAtStart.map((l) => l.toFixed(1)).join(' ')}\n`,
  );
  printTable(rows);
  console.log('');
  printTable(goals);
  const t = (value: number | undefined) => (value === undefined ? 'never' : `${s(value)} s`);
  const line = p2p.timeline ?? [];
  const cpuTotal = (p: Phase) =>
    Object.values(p.cpuSeconds).reduce((sum, sec) => sum + sec.user + sec.system, 0);
  const cpu = (p: Phase) =>
    Object.entries(p.cpuSeconds)
      .map(([role, sec]) => `${role} ${s(sec.user)} + ${s(sec.system)}`)
      .join(', ');
  console.log(
    `\nP2P: the seed peer(s) read the object from S3 by ${t(reachedAt(line, (v) => v.seedBackToSource, size))}` +
      ` and served ${x(seedServed / size)} of it to peers (piece server bytes, headers ` +
      `included; the seed's uplink alone needs ${s((seedServed * 8) / (rateMbit * 1e6))} s for ` +
      `that); peers downloaded ${x(p2pBytes / size)} of it from other daemons, ` +
      `${pieceFailures} piece fetch failures.\nCPU seconds (user + system) used by the bench's processes: ` +
      `P2P ${cpu(p2p)}${direct ? `; direct ${cpu(direct)}` : ''} (the machine has ${cpus().length} CPUs ` +
      `and was ${(p2p.cpuBusy * 100).toFixed(0)} % busy during the P2P phase, other work included).` +
      `\nP2P CPU floor: ${s(cpuTotal(p2p))} CPU seconds over ${cpus().length} CPUs = ` +
      `${s(cpuTotal(p2p) / cpus().length)} s, whatever the links.`,
  );
  writeResults('swarm', [...rows, ...goals], {
    peers,
    seedPeers,
    rateMbit,
    sizeBytes: size,
    digestMetadata: digest,
    perHostBoundSeconds: perHostBound,
    p2pCpuFloorSeconds: cpuTotal(p2p) / cpus().length,
    p2p,
    direct,
    backToSourceMetricBytes: backToSourceMetric,
    seedPieceServerBytes: seedServed,
    p2pBytes,
    pieceFailures,
    goals: { ...GOALS, met: goals.map((g) => g.status) },
    kernel: release(),
    memoryGiB: totalmem() / 2 ** 30,
    loadAverage: { start: loadAtStart, end: loadavg() },
  });
} catch (error) {
  if (!interrupted) {
    const logs = cluster
      ? [...cluster.seedPeers, ...cluster.peers].map((m) => m.daemon.logFile)
      : [];
    if (logs.length > 0) console.error(await tailFiles(logs.slice(0, 2), 20));
  }
  await cleanup();
  console.error(`swarm failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
}
