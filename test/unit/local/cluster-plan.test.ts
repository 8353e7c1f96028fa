import { describe, expect, it } from 'vitest';
import { loadManagerEnv } from '../../../lib/config/manager-env.ts';
import { loadPeerConfig } from '../../../lib/config/peer-config.ts';
import {
  daemonEnvOf,
  functionHostArgs,
  managerFunctionEnvOf,
  objectsFunctionEnvOf,
  parseStartArgs,
  planCluster,
  portsNeeded,
  UsageError,
} from '../../../lib/local/cluster-plan.ts';

const home = '/srv/dfstore';

describe('parseStartArgs', () => {
  it('defaults to one seed peer and one peer', () => {
    expect(parseStartArgs([])).toEqual({ seedPeers: 1, peers: 1, help: false });
  });

  it('reads --seed-peers and --peers, in either form', () => {
    expect(parseStartArgs(['--seed-peers', '3', '--peers=16'])).toMatchObject({
      seedPeers: 3,
      peers: 16,
    });
    expect(parseStartArgs(['--seed-peers', '0']).seedPeers).toBe(0);
    expect(parseStartArgs(['-h']).help).toBe(true);
  });

  it.each([
    [['--peers', '0'], '--peers must be an integer 1..16, not "0"'],
    [['--peers', '17'], '--peers must be an integer 1..16'],
    [['--seed-peers', '1.5'], '--seed-peers must be an integer 0..16'],
    [['--seed-peers', 'two'], '--seed-peers must be an integer 0..16'],
    [['--nodes', '2'], "Unknown option '--nodes'"],
    [['extra'], 'extra'],
  ])('rejects %j', (args, message) => {
    expect(() => parseStartArgs(args)).toThrow(UsageError);
    expect(() => parseStartArgs(args)).toThrow(message);
  });
});

describe('planCluster with the fixed ports', () => {
  const plan = planCluster(home, { seedPeers: 2, peers: 3 });

  it('puts the manager on 65003 and peer-1 on the CLI default 65004 (pieces 65002)', () => {
    expect(plan.manager).toEqual({
      name: 'manager',
      port: 65003,
      handler: 'functions/manager.ts',
      logFile: '/srv/dfstore/logs/manager.log',
    });
    expect(plan.peers[0]).toMatchObject({ name: 'peer-1', apiPort: 65004, piecePort: 65002 });
  });

  it('numbers the other ports after the node: seed-peer-i 65020+i/65040+i, peer-j 65060+j/65080+j', () => {
    const ports = [...plan.seedPeers, ...plan.peers].map((n) => [n.name, n.apiPort, n.piecePort]);
    expect(ports).toEqual([
      ['seed-peer-1', 65021, 65041],
      ['seed-peer-2', 65022, 65042],
      ['peer-1', 65004, 65002],
      ['peer-2', 65062, 65082],
      ['peer-3', 65063, 65083],
    ]);
  });

  it('never reuses a port, up to 16 of each, all below the function host (65100)', () => {
    const full = planCluster(home, { seedPeers: 16, peers: 16 });
    const ports = [
      full.manager.port,
      ...[...full.seedPeers, ...full.peers].flatMap((n) => [n.apiPort, n.piecePort]),
    ];
    expect(new Set(ports).size).toBe(ports.length);
    expect(Math.max(...ports)).toBeLessThan(65100);
  });

  it('gives each node its id, data dir and log file by name; one shared backend dir', () => {
    expect(plan.seedPeers[1]).toEqual({
      name: 'seed-peer-2',
      role: 'seed-peer',
      index: 2,
      id: 'seed-peer-2',
      apiPort: 65022,
      piecePort: 65042,
      dataDir: '/srv/dfstore/seed-peer-2',
      logFile: '/srv/dfstore/logs/seed-peer-2.log',
    });
    expect(plan.backendDir).toBe('/srv/dfstore/backend');
    expect(plan.logsDir).toBe('/srv/dfstore/logs');
  });
});

describe('planCluster with given (ephemeral) ports', () => {
  it('hands them out in order: manager, seed peers, peers (API, then pieces)', () => {
    const options = { seedPeers: 1, peers: 2 };
    expect(portsNeeded(options)).toBe(9);
    const plan = planCluster(home, options, [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009]);
    expect(plan.manager.port).toBe(1001);
    expect(plan.objectsFunction.port).toBe(1008);
    expect(plan.presignPort).toBe(1009);
    const ports = [...plan.seedPeers, ...plan.peers].map((n) => [n.apiPort, n.piecePort]);
    expect(ports).toEqual([
      [1002, 1003],
      [1004, 1005],
      [1006, 1007],
    ]);
  });

  it('refuses too few ports', () => {
    expect(() => planCluster(home, { seedPeers: 1, peers: 1 }, [1, 2, 3, 4])).toThrow(
      '7 ports needed, 4 given',
    );
  });
});

describe('the generated configs', () => {
  const plan = planCluster(home, { seedPeers: 2, peers: 1 });

  it('serves the object API function on 65100 and fs presigned URLs on 65101', () => {
    expect(plan.objectsFunction).toEqual({
      name: 'objects',
      port: 65100,
      handler: 'functions/objects.ts',
      logFile: '/srv/dfstore/logs/objects.log',
    });
    expect(plan.presignPort).toBe(65101);
    const env = objectsFunctionEnvOf(plan, {
      presignSecret: 's'.repeat(32),
      apiToken: 't'.repeat(32),
    });
    expect(JSON.parse(env.DFSTORE_BACKEND ?? '')).toEqual({
      name: 'fs',
      root: '/srv/dfstore/backend',
      presign: { baseUrl: 'http://127.0.0.1:65101', secret: 's'.repeat(32) },
    });
    expect(JSON.parse(env.DFSTORE_SEED_PEERS ?? '').map((p: { port: number }) => p.port)).toEqual([
      65021, 65022,
    ]);
    expect(env.DFSTORE_API_TOKEN).toBe('t'.repeat(32));
  });

  it('serves the manager function through the function host on loopback', () => {
    expect(functionHostArgs(plan.manager, '/repo')).toEqual([
      '--handler',
      '/repo/functions/manager.ts',
      '--name',
      'manager',
      '--listen',
      '127.0.0.1',
      '--port',
      '65003',
    ]);
  });

  it('gives the manager function an environment listing every seed peer by id on 127.0.0.1', () => {
    const config = loadManagerEnv(managerFunctionEnvOf(plan));
    expect(config.backend).toEqual({ name: 'fs', root: '/srv/dfstore/backend' });
    expect(config.seedPeers).toEqual([
      {
        id: 'seed-peer-1',
        hostname: 'seed-peer-1',
        ip: '127.0.0.1',
        port: 65021,
        downloadPort: 65041,
      },
      {
        id: 'seed-peer-2',
        hostname: 'seed-peer-2',
        ip: '127.0.0.1',
        port: 65022,
        downloadPort: 65042,
      },
    ]);
    expect(config.peerConfig.refreshInterval).toBe(30_000);
  });

  it("pins the manager function's variables, so none leaks in from the developer's shell", () => {
    const shell = { DFSTORE_CLOUDMAP_NAMESPACE: 'prod.local', DFSTORE_MAX_REPLICAS: '7' };
    const config = loadManagerEnv({ ...shell, ...managerFunctionEnvOf(plan) });
    expect(config.cloudMap).toBeUndefined();
    expect(config.peerConfig.maxReplicas).toBe(3);
  });

  it('gives each daemon an environment the peer config accepts: role, id, loopback, the manager', async () => {
    const seedPeer = plan.seedPeers[0];
    if (!seedPeer) throw new Error('no seed peer planned');
    const config = await loadPeerConfig(undefined, daemonEnvOf(plan, seedPeer));
    expect(config.role).toBe('seed-peer');
    expect(config.host).toEqual({ id: 'seed-peer-1', advertiseIP: '127.0.0.1' });
    expect(config.objectStorage.tcpListen).toEqual({
      listen: '127.0.0.1',
      port: { start: 65021, end: 65021 },
    });
    expect(config.upload.tcpListen).toEqual({
      listen: '127.0.0.1',
      port: { start: 65041, end: 65041 },
    });
    expect(config.storage.dataDir).toBe('/srv/dfstore/seed-peer-1');
    expect(config.manager.netAddrs).toEqual(['http://127.0.0.1:65003']);
    // The default backend is `backend/` beside the data dir: the one the manager serves.
    expect(config.backend).toEqual({ name: 'fs', root: '/srv/dfstore/backend' });
  });
});
