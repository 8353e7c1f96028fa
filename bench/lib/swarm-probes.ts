import { readFileSync } from 'node:fs';
import { metricValue } from '../../test/helpers/prometheus-text.ts';
import { sh } from './netns.ts';
import type { Member } from './netns-cluster.ts';

/** What the swarm bench watches besides completion times: CPU and the daemons' counters. */

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** Busy and total jiffies of all CPUs of the machine (/proc/stat). */
export function machineCpu(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').split(/\s+/).slice(1);
  const values = fields.map(Number).filter(Number.isFinite);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

export interface ProcessCpu {
  readonly ns: string;
  /** `client` for the bench's worker (bench/lib/netns-worker.ts), else `server`. */
  readonly kind: 'client' | 'server';
  /** Seconds. */
  readonly user: number;
  readonly system: number;
}

/**
 * CPU seconds used so far by every process in the namespaces, by namespace and kind: the
 * daemons, the workers, the S3 host's Ceph and proxy. Processes that exited are not counted.
 * System time includes the packet work (veth, routing, tbf) the kernel charges to a process.
 */
export async function namespaceCpu(namespaces: readonly string[]): Promise<ProcessCpu[]> {
  const out: ProcessCpu[] = [];
  for (const ns of namespaces) {
    const pids = (await sh('ip', ['netns', 'pids', ns]).catch(() => '')).split('\n');
    const sums = { client: { user: 0, system: 0 }, server: { user: 0, system: 0 } };
    for (const pid of pids.filter(Boolean)) {
      try {
        // Fields after the `(comm)`: utime and stime are the 14th and 15th of the whole line.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        const sum = cmdline.includes('netns-worker') ? sums.client : sums.server;
        sum.user += Number(rest[11]) / TICKS_PER_SECOND;
        sum.system += Number(rest[12]) / TICKS_PER_SECOND;
      } catch {}
    }
    out.push({ ns, kind: 'server', ...sums.server }, { ns, kind: 'client', ...sums.client });
  }
  return out;
}

export interface SwarmSample {
  /** Seconds since the phase started. */
  readonly t: number;
  /** Bytes every seed peer read from the backend so far (phase delta). */
  readonly seedBackToSource: number;
  /** Piece bytes the seed peers served so far (phase delta). */
  readonly seedServed: number;
  /** Piece bytes the peers served to each other so far (phase delta). */
  readonly peersServed: number;
  /** Verified piece bytes the peers downloaded so far (phase delta). */
  readonly peersDownloaded: number;
}

async function counters(members: readonly Member[]) {
  const texts = await Promise.all(
    members.map((m) =>
      m.worker
        .call<{ text: string }>({ op: 'text', url: `${m.daemon.pieces}/metrics` }, 10_000)
        .then((r) => r.text)
        .catch(() => ''),
    ),
  );
  const sum = (role: Member['role'], name: string, labels = {}) =>
    members.reduce(
      (total, m, i) =>
        m.role === role ? total + metricValue(texts[i] ?? '', name, labels) : total,
      0,
    );
  return {
    seedBackToSource: sum('seed-peer', 'dfstore_back_to_source_bytes_total'),
    seedServed: sum('seed-peer', 'dfstore_bytes_sent_total', { server: 'pieces' }),
    peersServed: sum('peer', 'dfstore_bytes_sent_total', { server: 'pieces' }),
    peersDownloaded: sum('peer', 'dfstore_p2p_bytes_total'),
  };
}

/**
 * Reads the daemons' counters once (the base), then samples them every `intervalMs` until
 * stop(), which resolves the series (deltas from the base).
 */
export async function sampleSwarm(members: readonly Member[], intervalMs = 1_000) {
  const samples: SwarmSample[] = [];
  const base = await counters(members);
  const started = performance.now();
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, intervalMs);
      });
      const now = await counters(members);
      samples.push({
        t: (performance.now() - started) / 1000,
        seedBackToSource: now.seedBackToSource - base.seedBackToSource,
        seedServed: now.seedServed - base.seedServed,
        peersServed: now.peersServed - base.peersServed,
        peersDownloaded: now.peersDownloaded - base.peersDownloaded,
      });
    }
  })();
  return {
    async stop(): Promise<SwarmSample[]> {
      stopped = true;
      wake?.();
      await loop;
      return samples;
    },
  };
}

/** Seconds until `pick` first reached `value` (undefined if never). */
export function reachedAt(
  samples: readonly SwarmSample[],
  pick: (s: SwarmSample) => number,
  value: number,
): number | undefined {
  return samples.find((sample) => pick(sample) >= value)?.t;
}
