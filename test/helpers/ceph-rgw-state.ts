import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Where one mini cluster keeps everything: config, keyring, daemon data, logs, sockets. */
export interface CephPaths {
  readonly stateDir: string;
  readonly conf: string;
  readonly keyring: string;
  readonly monmap: string;
  readonly runDir: string;
  readonly logDir: string;
  readonly monData: string;
  readonly osdData: string;
  readonly rgwData: string;
  /** PIDs of the daemons and of the process that owns them (see sweepStaleStateDirs). */
  readonly pidsFile: string;
}

/** Prefix of every state dir under the base dir (os.tmpdir()). */
export const STATE_DIR_PREFIX = 'dfstore-ceph-';
export const MON_ID = 'a';
export const OSD_ID = '0';
export const RGW_NAME = 'client.rgw';

/** Pools radosgw would otherwise create one by one on start and on the first bucket write. */
export const RGW_POOLS = [
  '.rgw.root',
  'default.rgw.control',
  'default.rgw.meta',
  'default.rgw.log',
  'default.rgw.buckets.index',
  'default.rgw.buckets.data',
  'default.rgw.buckets.non-ec',
] as const;

export function cephPaths(stateDir: string): CephPaths {
  return {
    stateDir,
    conf: join(stateDir, 'ceph.conf'),
    keyring: join(stateDir, 'keyring'),
    monmap: join(stateDir, 'monmap'),
    runDir: join(stateDir, 'run'),
    logDir: join(stateDir, 'log'),
    monData: join(stateDir, 'mon', `ceph-${MON_ID}`),
    osdData: join(stateDir, 'osd', `ceph-${OSD_ID}`),
    rgwData: join(stateDir, 'rgw'),
    pidsFile: join(stateDir, 'pids.json'),
  };
}

/** The daemon's own log file (`log file = <logDir>/$name.log`). */
export function logFileOf(paths: CephPaths, name: string): string {
  return join(paths.logDir, `${name}.log`);
}

export interface CephConfParams {
  readonly fsid: string;
  readonly monPort: number;
  readonly rgwPort: number;
}

/**
 * One monitor, one BlueStore OSD on a sparse file, one radosgw; cephx on; no mgr; every socket on
 * 127.0.0.1 (msgr v2 only, no IPv6). Single-replica pools need `mon allow pool size one`, and
 * `chooseleaf type = 0` lets CRUSH place them on the one OSD. RGW needs the longer object names.
 */
export function renderCephConf(paths: CephPaths, params: CephConfParams): string {
  const lines = [
    '[global]',
    `fsid = ${params.fsid}`,
    `mon host = v2:127.0.0.1:${params.monPort}`,
    'public network = 127.0.0.0/8',
    'ms bind ipv6 = false',
    'ms bind msgr1 = false',
    'auth cluster required = cephx',
    'auth service required = cephx',
    'auth client required = cephx',
    `keyring = ${paths.keyring}`,
    `run dir = ${paths.runDir}`,
    `log file = ${paths.logDir}/$name.log`,
    // $pid keeps concurrent CLI calls (ceph, radosgw-admin) from fighting over one socket.
    `admin socket = ${paths.runDir}/$name.$pid.asok`,
    `mon data = ${join(paths.stateDir, 'mon')}/$cluster-$id`,
    `osd data = ${join(paths.stateDir, 'osd')}/$cluster-$id`,
    'osd pool default size = 1',
    'osd pool default min size = 1',
    'osd pool default pg num = 8',
    'osd pool default pgp num = 8',
    'mon allow pool size one = true',
    'osd crush chooseleaf type = 0',
    'osd max object name len = 256',
    'osd max object namespace len = 64',
    '',
    '[osd]',
    'osd objectstore = bluestore',
    'bluestore block create = true',
    'bluestore block size = 21474836480',
    '',
    `[${RGW_NAME}]`,
    `rgw frontends = beast endpoint=127.0.0.1:${params.rgwPort}`,
    `rgw data = ${paths.rgwData}`,
    '',
  ];
  return lines.join('\n');
}

/** Keyring entries: [name, ...ceph-authtool cap arguments]. One keyring serves every daemon. */
export const KEYRING_ENTITIES: ReadonlyArray<readonly [string, ...string[]]> = [
  ['mon.', '--cap', 'mon', 'allow *'],
  ['client.admin', '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mgr', 'allow *'],
  [RGW_NAME, '--cap', 'mon', 'allow rw', '--cap', 'osd', 'allow rwx'],
  [`osd.${OSD_ID}`, '--cap', 'mon', 'allow profile osd', '--cap', 'osd', 'allow *'],
];

/**
 * Removes state dirs left by runs that died without stopping (their owner process is gone),
 * killing any of their daemons still alive. Directories of live owners are left alone.
 */
export async function sweepStaleStateDirs(baseDir: string): Promise<void> {
  const entries = await readdir(baseDir).catch(() => [] as string[]);
  for (const entry of entries.filter((e) => e.startsWith(STATE_DIR_PREFIX))) {
    const dir = join(baseDir, entry);
    let pids: { owner: number; daemons: number[] };
    try {
      pids = JSON.parse(await readFile(cephPaths(dir).pidsFile, 'utf8'));
    } catch {
      continue;
    }
    if (isAlive(pids.owner)) continue;
    for (const pid of pids.daemons) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (!cmdline.includes(dir)) continue; // exited, or the pid now belongs to another process
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
