import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadManagerConfig } from '../../../lib/config/load-manager-config.ts';
import { ConfigError, parseManagerConfig } from '../../../lib/config/manager-config.ts';
import { DEFAULT_OBJECT_STORAGE_FILTER } from '../../../lib/config/peer-config-schema.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dfstore-manager-config-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function issuesOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('manager config', () => {
  it('fills every default', () => {
    const config = parseManagerConfig({}, { cwd: '/srv' });
    expect(config).toEqual({
      logLevel: 'info',
      shutdownTimeoutMs: 10_000,
      listen: '127.0.0.1',
      port: 65003,
      backend: { name: 'fs', root: '/srv/.dfstore/backend' },
      seedPeers: [],
      cloudMap: undefined,
      peerConfig: {
        filter: DEFAULT_OBJECT_STORAGE_FILTER,
        maxReplicas: 3,
        refreshInterval: 600_000,
      },
    });
  });

  it('reads YAML with Cloud Map, static peers and env overrides', async () => {
    const path = join(dir, 'manager.yaml');
    await writeFile(
      path,
      [
        'backend: { name: fs, root: ./objects }',
        'seedPeers:',
        '  - { hostname: seed, ip: 127.0.0.1, port: 65004, downloadPort: 65002 }',
        'cloudMap: { namespace: dfstore.local, service: seed-peer, cacheTtl: 3s }',
        'peerConfig: { maxReplicas: 5, refreshInterval: 2m }',
      ].join('\n'),
    );
    const config = await loadManagerConfig(path, { DFSTORE_MANAGER_PORT: '0' }, { cwd: dir });
    expect(config.port).toBe(0);
    expect(config.backend).toEqual({ name: 'fs', root: join(dir, 'objects') });
    expect(config.seedPeers).toHaveLength(1);
    expect(config.cloudMap).toEqual({
      namespace: 'dfstore.local',
      service: 'seed-peer',
      cacheTtlMs: 3000,
    });
    expect(config.peerConfig).toMatchObject({ maxReplicas: 5, refreshInterval: 120_000 });
  });

  it('names the key path of each problem', () => {
    const issues = issuesOf(() =>
      parseManagerConfig({
        port: 70000,
        prot: 1,
        seedPeers: [{ hostname: 'seed', ip: '127.0.0.1', port: 'x', downloadPort: 65002 }],
        cloudMap: { namespace: 'dfstore.local' },
        peerConfig: { refreshInterval: 'soon' },
      }),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        'port: must be ≤ 65535',
        '(root): unknown key "prot"',
        'seedPeers[0].port: expected number, got string "x"',
        'cloudMap.service: required',
        'peerConfig.refreshInterval: invalid duration "soon" (e.g. 30s, 10m)',
      ]),
    );
  });

  it('names the environment variable behind a bad value', async () => {
    const error = await loadManagerConfig(undefined, { DFSTORE_MANAGER_PORT: 'http' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      'port: expected number, got string "http" (set by DFSTORE_MANAGER_PORT)',
    ]);
  });

  it('reports an unreadable or non-mapping file', async () => {
    const path = join(dir, 'list.yaml');
    await writeFile(path, '- a\n- b\n');
    await expect(loadManagerConfig(path, {})).rejects.toThrow('must be a YAML mapping');
    await expect(loadManagerConfig(join(dir, 'absent.yaml'), {})).rejects.toThrow('cannot read');
  });
});
