import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CephPaths,
  cephPaths,
  KEYRING_ENTITIES,
  logFileOf,
  MON_ID,
  OSD_ID,
  RGW_NAME,
  RGW_POOLS,
  renderCephConf,
  STATE_DIR_PREFIX,
  sweepStaleStateDirs,
} from './ceph-rgw-state.ts';
import { type Daemon, freePort, onPath, run, startDaemon, waitFor } from './daemon.ts';

/**
 * A one-host Ceph cluster (one mon, one BlueStore OSD, radosgw) on 127.0.0.1, the S3 server of
 * the integration tests (see TESTING.md). Starts in about 9 s and stops in about 1 s here, so
 * start one per test run.
 */

export const CEPH_PACKAGES = ['radosgw', 'ceph-mon', 'ceph-osd', 'ceph-common'] as const;
const CEPH_COMMANDS = [
  'radosgw',
  'radosgw-admin',
  'ceph-mon',
  'ceph-osd',
  'ceph',
  'ceph-authtool',
  'monmaptool',
];
const INSTALL_COMMAND = `apt-get update && apt-get install -y --no-install-recommends ${CEPH_PACKAGES.join(' ')}`;

/**
 * Installs the Debian Ceph packages when radosgw is missing (as root), else throws saying how.
 * Never skips: S3 tests must not pass by not running.
 */
export async function ensureCephInstalled(): Promise<void> {
  const missing = () => CEPH_COMMANDS.filter((command) => !onPath(command));
  if (missing().length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `Ceph is not installed (missing: ${missing().join(', ')}); the S3 integration tests need ` +
        `it. Install it as root with:\n  ${INSTALL_COMMAND}`,
    );
  }
  const apt = {
    timeoutMs: 15 * 60_000,
    label: 'apt-get',
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  };
  console.error(`Ceph is missing (${missing().join(', ')}): installing ${CEPH_PACKAGES.join(' ')}`);
  try {
    await run('apt-get', ['update'], apt);
    await run('apt-get', ['install', '-y', '--no-install-recommends', ...CEPH_PACKAGES], apt);
  } catch (err) {
    throw new Error(`installing Ceph failed; run by hand:\n  ${INSTALL_COMMAND}`, { cause: err });
  }
  if (missing().length > 0) {
    throw new Error(`Ceph installed but ${missing().join(', ')} still not on PATH`);
  }
}

export interface CephRgw {
  /** `http://127.0.0.1:<port>`; use path-style requests. */
  readonly endpoint: string;
  readonly region: 'us-east-1';
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly stateDir: string;
  /** Stops the daemons (SIGTERM, then SIGKILL) and removes the state dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartCephRgwOptions {
  /** Whole startup budget. */
  readonly startTimeoutMs?: number;
  /** Per daemon, before SIGKILL. */
  readonly stopTimeoutMs?: number;
  /** Parent of the state dir; os.tmpdir() by default. */
  readonly baseDir?: string;
}

export async function startCephRgw(options: StartCephRgwOptions = {}): Promise<CephRgw> {
  const deadline = Date.now() + (options.startTimeoutMs ?? 120_000);
  const baseDir = options.baseDir ?? tmpdir();
  await sweepStaleStateDirs(baseDir);
  const paths = cephPaths(await mkdtemp(join(baseDir, STATE_DIR_PREFIX)));
  const daemons: Daemon[] = [];
  const recordPids = () =>
    writeFile(
      paths.pidsFile,
      JSON.stringify({ owner: process.pid, daemons: daemons.map((d) => d.pid) }),
    );
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= stopAll(daemons, paths, options.stopTimeoutMs ?? 10_000);
    return stopping;
  };
  const launch = async (name: string, command: string, args: string[]) => {
    const daemon = startDaemon({
      name,
      command,
      args: ['-c', paths.conf, '-f', ...args],
      outFile: join(paths.logDir, `${name}.out`),
      logFiles: [logFileOf(paths, name), join(paths.logDir, `${name}.out`)],
    });
    daemons.push(daemon);
    await recordPids();
    return daemon;
  };
  /** A Ceph CLI tool on this cluster; the label keeps later arguments (secrets) out of errors. */
  const tool = (command: string, args: string[], timeoutMs = 30_000) =>
    run(command, ['-c', paths.conf, ...args], {
      timeoutMs,
      label: `${command} ${args.slice(0, 3).join(' ')}`,
    });

  try {
    await recordPids();
    const [monPort, rgwPort] = await twoFreePorts();
    await writeConfAndKeyring(paths, { fsid: randomUUID(), monPort, rgwPort });

    const mkfsArgs = ['--monmap', paths.monmap, '--keyring', paths.keyring];
    await tool('ceph-mon', ['--mkfs', '-i', MON_ID, ...mkfsArgs]);
    const mon = await launch(`mon.${MON_ID}`, 'ceph-mon', ['-i', MON_ID]);
    // Until the mon has formed its quorum the CLI gets "permission denied" or no answer.
    const osdUuid = randomUUID();
    const ceph = (args: string[], timeoutMs?: number) =>
      tool('ceph', ['--connect-timeout', '10', ...args], timeoutMs);
    const osdId = await waitFor(
      async () => (await ceph(['osd', 'create', osdUuid], 15_000)).trim(),
      {
        what: 'the Ceph monitor to answer',
        deadline,
        watch: [mon],
      },
    );
    if (osdId !== OSD_ID) throw new Error(`expected OSD id ${OSD_ID}, the monitor gave ${osdId}`);

    // Pool creation only needs the mon, so it overlaps the OSD's mkfs and boot. allSettled, so
    // that a failure of one never leaves the other starting a daemon after stop() began.
    const [pools, osd] = await Promise.allSettled([
      Promise.all(
        RGW_POOLS.map(async (pool) => {
          await ceph(['osd', 'pool', 'create', pool, '8', '8']);
          await ceph(['osd', 'pool', 'application', 'enable', pool, 'rgw']);
        }),
      ),
      tool('ceph-osd', ['--mkfs', '-i', OSD_ID, '--osd-uuid', osdUuid], 60_000).then(() =>
        launch(`osd.${OSD_ID}`, 'ceph-osd', ['-i', OSD_ID]),
      ),
    ]);
    if (pools.status === 'rejected') throw pools.reason;
    if (osd.status === 'rejected') throw osd.reason;

    const rgw = await launch(RGW_NAME, 'radosgw', ['-n', RGW_NAME]);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    const answers = async () =>
      (await fetch(endpoint, { signal: AbortSignal.timeout(2_000) })).status;
    await waitFor(answers, {
      what: `radosgw to answer on ${endpoint}`,
      deadline,
      watch: [mon, osd.value, rgw],
    });

    const accessKeyId = randomBytes(10).toString('hex').toUpperCase();
    const secretAccessKey = randomBytes(30).toString('base64url');
    const keys = [`--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`];
    await tool('radosgw-admin', ['user', 'create', '--uid=test', '--display-name=test', ...keys]);
    return {
      endpoint,
      region: 'us-east-1',
      accessKeyId,
      secretAccessKey,
      stateDir: paths.stateDir,
      stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

async function writeConfAndKeyring(
  paths: CephPaths,
  params: { fsid: string; monPort: number; rgwPort: number },
): Promise<void> {
  for (const dir of [paths.runDir, paths.logDir, paths.monData, paths.osdData, paths.rgwData]) {
    await mkdir(dir, { recursive: true });
  }
  await writeFile(paths.conf, renderCephConf(paths, params));
  for (const [index, [name, ...caps]] of KEYRING_ENTITIES.entries()) {
    const create = index === 0 ? ['--create-keyring'] : [];
    await run('ceph-authtool', [...create, paths.keyring, '--gen-key', '-n', name, ...caps], {
      timeoutMs: 10_000,
      label: `ceph-authtool ${name}`,
    });
  }
  const monitor = [MON_ID, `[v2:127.0.0.1:${params.monPort}]`];
  await run('monmaptool', ['--create', '--fsid', params.fsid, '--addv', ...monitor, paths.monmap], {
    timeoutMs: 10_000,
    label: 'monmaptool',
  });
}

/**
 * In reverse start order: radosgw, OSD, mon (about 1 s in all). An OSD whose mon is already gone
 * waits 5 s for it before exiting.
 */
async function stopAll(
  daemons: readonly Daemon[],
  paths: CephPaths,
  timeoutMs: number,
): Promise<void> {
  const errors: unknown[] = [];
  for (const daemon of [...daemons].reverse()) {
    await daemon.stop(timeoutMs).catch((err: unknown) => errors.push(err));
  }
  // A daemon that would not die keeps its files open; leave them for inspection.
  if (errors.length > 0)
    throw new AggregateError(errors, `stopping Ceph in ${paths.stateDir} failed`);
  await rm(paths.stateDir, { recursive: true, force: true });
}

async function twoFreePorts(): Promise<[number, number]> {
  const first = await freePort();
  for (;;) {
    const second = await freePort();
    if (second !== first) return [first, second];
  }
}
