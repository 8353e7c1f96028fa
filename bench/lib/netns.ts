import { execFile } from 'node:child_process';
import { onPath } from '../../test/helpers/daemon.ts';

/**
 * Hosts on one machine for swarm benchmarks (TESTING.md, "Several hosts on one machine"): one
 * network namespace per host, each with `eth0` = 10.213.<i>.2/24 on a veth to a router
 * namespace (10.213.<i>.1, the host's default route). Each link is shaped with `tc tbf` in both
 * directions: the host's upload on its eth0, its download on the router-side end. Traffic a
 * host sends to itself (a client and its local daemon) stays on its loopback, unshaped.
 *
 * Every name starts with `dfsw-<pid>-`: sweepStaleNetworks() removes the namespaces of runs
 * whose process is gone. Deleting a namespace deletes its veth ends and their qdiscs.
 */

/** Prefix of every namespace a swarm bench creates. */
export const NETNS_BASE = 'dfsw-';
const SUBNET = '10.213';
const PROCESS_PREFIX = `${NETNS_BASE}${process.pid}-`;

export interface NetHost {
  /** As given to createNetwork (e.g. `s3`, `peer-3`). */
  readonly label: string;
  /** The namespace's name. */
  readonly ns: string;
  /** Its address, reachable from every other host through the router. */
  readonly ip: string;
}

export interface Network {
  readonly router: string;
  readonly hosts: readonly NetHost[];
  /** Link rate in Mbit/s, each direction of each host's link. */
  readonly rateMbit: number;
  host(label: string): NetHost;
  /** Kills whatever still runs in the namespaces, then deletes them. Idempotent. */
  destroy(): Promise<void>;
}

/** Why this process cannot build networks, or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) {
    return 'creating network namespaces, veth links and tc qdiscs needs root (run it as root)';
  }
  const missing = ['ip', 'tc'].filter((command) => !onPath(command));
  if (missing.length > 0) return `missing ${missing.join(', ')} (apt-get install iproute2)`;
  return undefined;
}

/** `ip netns exec <ns>`: put it before a command to run that command in the namespace. */
export function inNamespace(ns: string): string[] {
  return ['ip', 'netns', 'exec', ns];
}

/** Runs a command; rejects with its stderr on failure. */
export function sh(command: string, args: readonly string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, out, errOut) => {
      if (!err) return resolve(out);
      const line = `${command} ${args.join(' ')}`;
      reject(new Error(`${line} failed (${err.code ?? err.signal}): ${`${errOut}${out}`.trim()}`));
    });
  });
}

async function namespaces(): Promise<string[]> {
  const out = await sh('ip', ['netns', 'list']);
  // Lines look like `name` or `name (id: 3)`.
  return out
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

/** SIGKILLs every process in the namespace, then deletes it. */
async function removeNamespace(ns: string): Promise<void> {
  const pids = await sh('ip', ['netns', 'pids', ns]).catch(() => '');
  for (const pid of pids.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {}
  }
  await sh('ip', ['netns', 'del', ns]).catch(async (error: unknown) => {
    if ((await namespaces()).includes(ns)) throw error;
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces left by swarm benches that died without cleaning up; returns them. */
export async function sweepStaleNetworks(): Promise<string[]> {
  const stale = (await namespaces()).filter((ns) => {
    if (!ns.startsWith(NETNS_BASE)) return false;
    const pid = Number(ns.slice(NETNS_BASE.length).split('-')[0]);
    return !Number.isInteger(pid) || pid === process.pid || !alive(pid);
  });
  for (const ns of stale) await removeNamespace(ns);
  return stale;
}

/** `tc tbf` shaping `dev` in `ns` to `rateMbit`. */
function shape(ns: string, dev: string, rateMbit: number): Promise<string> {
  // The bucket holds at least 4 ms of traffic (one tick at HZ=250) and a GSO segment.
  const burst = Math.max(64 * 1024, Math.ceil((rateMbit * 1e6) / 8 / 250));
  return sh('tc', [
    ...['-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'tbf'],
    ...['rate', `${rateMbit}mbit`, 'burst', String(burst), 'latency', '20ms'],
  ]);
}

/**
 * Creates the router and one namespace per label (at most 250), linked and shaped. On failure
 * everything created so far is removed before the error is thrown.
 */
export async function createNetwork(labels: readonly string[], rateMbit: number): Promise<Network> {
  if (labels.length > 250) throw new RangeError('at most 250 hosts');
  const router = `${PROCESS_PREFIX}router`;
  const hosts = labels.map((label, i) => ({
    label,
    ns: `${PROCESS_PREFIX}${label}`,
    ip: `${SUBNET}.${i + 1}.2`,
  }));
  const created: string[] = [];
  let destroying: Promise<void> | undefined;
  const destroy = () => {
    destroying ??= (async () => {
      for (const ns of created.reverse()) await removeNamespace(ns).catch(() => {});
    })();
    return destroying;
  };
  const add = async (ns: string) => {
    await sh('ip', ['netns', 'add', ns]);
    created.push(ns);
    await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  };
  try {
    await add(router);
    await sh('ip', ['netns', 'exec', router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    for (const [i, host] of hosts.entries()) {
      const link = `v${i + 1}`;
      const gateway = `${SUBNET}.${i + 1}.1`;
      await add(host.ns);
      // Both ends are born in their namespaces: nothing appears in the root namespace.
      await sh('ip', [
        ...['link', 'add', 'name', link, 'netns', router, 'type', 'veth'],
        ...['peer', 'name', 'eth0', 'netns', host.ns],
      ]);
      await sh('ip', ['-n', router, 'addr', 'add', `${gateway}/24`, 'dev', link]);
      await sh('ip', ['-n', router, 'link', 'set', link, 'up']);
      await sh('ip', ['-n', host.ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0']);
      await sh('ip', ['-n', host.ns, 'link', 'set', 'eth0', 'up']);
      await sh('ip', ['-n', host.ns, 'route', 'add', 'default', 'via', gateway]);
      await shape(host.ns, 'eth0', rateMbit); // upload
      await shape(router, link, rateMbit); // download
    }
  } catch (error) {
    await destroy();
    throw error;
  }
  return {
    router,
    hosts,
    rateMbit,
    host(label) {
      const found = hosts.find((host) => host.label === label);
      if (!found) throw new Error(`no host ${label}`);
      return found;
    },
    destroy,
  };
}
