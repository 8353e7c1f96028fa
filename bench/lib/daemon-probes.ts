import { readdir, readFile, readlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'undici';
import { metricValue } from '../../test/helpers/prometheus-text.ts';

/**
 * Resource probes of a running daemon process, for load runs: open file descriptors, and the
 * V8 heap after a full GC. The GC is triggered through the inspector (the daemon is started
 * with `NODE_OPTIONS=--inspect=127.0.0.1:0`, which logs its WebSocket URL), and the heap is
 * read from the daemon's own `/metrics` (prom-client's `nodejs_heap_size_used_bytes`).
 */

/** Environment that makes a daemon open an inspector on a free loopback port. */
export const INSPECTOR_ENV = { NODE_OPTIONS: '--inspect=127.0.0.1:0' } as const;

/** Open file descriptors of `pid` (sockets, files, pipes). */
export async function openFds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/** The inspector's WebSocket URL, from the `Debugger listening on ws://…` line of its log. */
export async function inspectorUrl(logFile: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = /Debugger listening on (ws:\/\/\S+)/.exec(await readFile(logFile, 'utf8'));
    if (match?.[1]) return match[1];
    if (Date.now() > deadline) throw new Error(`no inspector URL in ${logFile}`);
    await sleep(200);
  }
}

/** Runs `HeapProfiler.collectGarbage` in the process behind `url` (twice: weak refs go too). */
export async function collectGarbage(url: string): Promise<void> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error(`cannot open ${url}`)), {
      once: true,
    });
  });
  try {
    for (const id of [1, 2]) {
      const answered = new Promise<void>((resolve) => {
        const onMessage = (event: { data: unknown }) => {
          if ((JSON.parse(String(event.data)) as { id?: number }).id !== id) return;
          socket.removeEventListener('message', onMessage);
          resolve();
        };
        socket.addEventListener('message', onMessage);
      });
      socket.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }));
      await answered;
    }
  } finally {
    socket.close();
  }
}

/** `nodejs_heap_size_used_bytes` from the daemon's `/metrics`. */
export async function heapUsed(metricsBase: string): Promise<number> {
  const response = await fetch(`${metricsBase}/metrics`);
  return metricValue(await response.text(), 'nodejs_heap_size_used_bytes');
}

export interface ResourceSample {
  readonly fds: number;
  readonly heapBytes: number;
}

/** fds and the heap after a full GC. */
export async function sampleResources(probe: {
  pid: number;
  inspector: string;
  metrics: string;
}): Promise<ResourceSample> {
  await collectGarbage(probe.inspector);
  return { fds: await openFds(probe.pid), heapBytes: await heapUsed(probe.metrics) };
}

/** Open fds of `pid` by kind (`socket`, `pipe`, `anon_inode`, or the file's directory). */
export async function fdKinds(pid: number): Promise<Record<string, number>> {
  const kinds: Record<string, number> = {};
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = await readlink(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const kind = /^(socket|pipe|anon_inode)/.exec(target)?.[1] ?? target.replace(/\/[^/]*$/, '/');
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}
