import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/config/config-file.ts';
import { loadManagerEnv } from '../../../lib/config/manager-env.ts';
import { DEFAULT_OBJECT_STORAGE_FILTER } from '../../../lib/config/peer-config-schema.ts';

const backend = JSON.stringify({ name: 'fs', root: './objects' });
const seedPeers = JSON.stringify([
  { id: 'seed-1', hostname: 'seed-1', ip: '10.0.1.7', port: 65004, downloadPort: 65002 },
]);

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadManagerEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('manager config from the environment', () => {
  it('reads the backend and static seed peers; the rest defaults like the YAML', () => {
    const config = loadManagerEnv(
      { DFSTORE_BACKEND: backend, DFSTORE_SEED_PEERS: seedPeers },
      { cwd: '/var/task' },
    );
    expect(config.backend).toEqual({ name: 'fs', root: '/var/task/objects' });
    expect(config.seedPeers).toEqual([
      { id: 'seed-1', hostname: 'seed-1', ip: '10.0.1.7', port: 65004, downloadPort: 65002 },
    ]);
    expect(config.cloudMap).toBeUndefined();
    expect(config.logLevel).toBe('info');
    expect(config.peerConfig).toEqual({
      filter: DEFAULT_OBJECT_STORAGE_FILTER,
      maxReplicas: 3,
      refreshInterval: 600_000,
    });
  });

  it('reads Cloud Map membership and the served peer config', () => {
    const config = loadManagerEnv({
      DFSTORE_BACKEND: JSON.stringify({ name: 's3', region: 'eu-west-1' }),
      DFSTORE_CLOUDMAP_NAMESPACE: 'dfstore.local',
      DFSTORE_CLOUDMAP_SERVICE: 'seed-peer',
      DFSTORE_CLOUDMAP_CACHE_TTL: '3s',
      DFSTORE_MAX_REPLICAS: '2',
      DFSTORE_FILTER: 'Expires&Signature',
      DFSTORE_REFRESH_INTERVAL: '1m',
      DFSTORE_LOG_LEVEL: 'debug',
      DFSTORE_SEED_PEERS: '',
    });
    expect(config.backend).toMatchObject({ name: 's3', region: 'eu-west-1' });
    expect(config.cloudMap).toEqual({
      namespace: 'dfstore.local',
      service: 'seed-peer',
      cacheTtlMs: 3_000,
    });
    expect(config.peerConfig).toEqual({
      filter: 'Expires&Signature',
      maxReplicas: 2,
      refreshInterval: 60_000,
    });
    expect(config.logLevel).toBe('debug');
  });

  it.each([
    [{}, 'DFSTORE_BACKEND: required'],
    [{ DFSTORE_BACKEND: '{name: fs}' }, 'DFSTORE_BACKEND: not valid JSON'],
    [{ DFSTORE_BACKEND: '{"name":"gcs"}' }, '(set by DFSTORE_BACKEND)'],
    [
      { DFSTORE_BACKEND: backend, DFSTORE_SEED_PEERS: '[{"ip":"x"}]' },
      '(set by DFSTORE_SEED_PEERS)',
    ],
    [{ DFSTORE_BACKEND: backend, DFSTORE_MAX_REPLICAS: 'many' }, '(set by DFSTORE_MAX_REPLICAS)'],
    [{ DFSTORE_BACKEND: backend, DFSTORE_MAX_REPLICAS: '500' }, 'must be ≤ 100 (set by'],
    [{ DFSTORE_BACKEND: backend, DFSTORE_REFRESH_INTERVAL: 'soon' }, 'DFSTORE_REFRESH_INTERVAL'],
    [{ DFSTORE_BACKEND: backend, DFSTORE_LOG_LEVEL: 'loud' }, '(set by DFSTORE_LOG_LEVEL)'],
    [
      { DFSTORE_BACKEND: backend, DFSTORE_CLOUDMAP_NAMESPACE: 'ns' },
      'DFSTORE_CLOUDMAP_SERVICE: required when DFSTORE_CLOUDMAP_NAMESPACE is set',
    ],
    [
      {
        DFSTORE_BACKEND: backend,
        DFSTORE_SEED_PEERS: seedPeers,
        DFSTORE_CLOUDMAP_NAMESPACE: 'ns',
        DFSTORE_CLOUDMAP_SERVICE: 'svc',
      },
      'DFSTORE_SEED_PEERS: set either it or DFSTORE_CLOUDMAP_*, not both',
    ],
  ])('names the variable of a bad value: %j', (env, message) => {
    expect(problemsOf(env).join('\n')).toContain(message);
  });

  it('never quotes a malformed DFSTORE_BACKEND back (it may hold credentials)', () => {
    const problems = problemsOf({ DFSTORE_BACKEND: '{"accessKeySecret": "hunter2' });
    expect(problems.join('\n')).not.toContain('hunter2');
  });
});
