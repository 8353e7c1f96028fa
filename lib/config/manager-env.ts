import { ConfigError } from './config-errors.ts';
import { type ManagerConfig, parseManagerConfig } from './manager-config.ts';

/**
 * The manager function's config (functions/manager.ts): environment variables only, since a
 * Lambda has no config file. Each variable stands for one key of the manager's YAML and the
 * result is validated by the same schema (manager-config.ts), so defaults and rules are shared;
 * every error names the variable that caused it.
 */

type Kind = 'string' | 'int' | 'json';

export const MANAGER_ENV: Readonly<Record<string, { readonly key: string; readonly kind: Kind }>> =
  {
    /** Required. A backend config as JSON (backend-config.ts): `{"name":"s3","region":"…"}`. */
    DFSTORE_BACKEND: { key: 'backend', kind: 'json' },
    /** Static membership: a JSON list of `{id?, hostname, ip, port, downloadPort}`. */
    DFSTORE_SEED_PEERS: { key: 'seedPeers', kind: 'json' },
    /** Cloud Map membership: both or neither, and not with DFSTORE_SEED_PEERS. */
    DFSTORE_CLOUDMAP_NAMESPACE: { key: 'cloudMap.namespace', kind: 'string' },
    DFSTORE_CLOUDMAP_SERVICE: { key: 'cloudMap.service', kind: 'string' },
    /** How long a Cloud Map answer is served (`5s`). */
    DFSTORE_CLOUDMAP_CACHE_TTL: { key: 'cloudMap.cacheTtl', kind: 'string' },
    DFSTORE_MAX_REPLICAS: { key: 'peerConfig.maxReplicas', kind: 'int' },
    DFSTORE_FILTER: { key: 'peerConfig.filter', kind: 'string' },
    /** A duration (`10m`); served to peers in seconds. */
    DFSTORE_REFRESH_INTERVAL: { key: 'peerConfig.refreshInterval', kind: 'string' },
    DFSTORE_LOG_LEVEL: { key: 'logLevel', kind: 'string' },
  };

/** How ConfigError names this source. */
export const MANAGER_ENV_SOURCE = '(environment)';

/**
 * Reads the manager config from `env` (empty values count as unset). Throws ConfigError listing
 * every problem, each naming its variable. A relative fs backend root is resolved against `cwd`.
 */
export function loadManagerEnv(
  env: Readonly<Record<string, string | undefined>>,
  options: { readonly cwd?: string } = {},
): ManagerConfig {
  const set = (name: string) => env[name] !== undefined && env[name] !== '';
  const input: Record<string, unknown> = {};
  const fromEnv = new Map<string, string>();
  const problems: string[] = [];
  for (const [name, { key, kind }] of Object.entries(MANAGER_ENV)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const parsed = parseValue(value, kind);
    // The value is not quoted back: DFSTORE_BACKEND may hold credentials.
    if (parsed === INVALID_JSON) problems.push(`${name}: not valid JSON`);
    else setPath(input, key.split('.'), parsed);
    fromEnv.set(key, name);
  }
  if (!set('DFSTORE_BACKEND')) {
    problems.push('DFSTORE_BACKEND: required (a backend config as JSON, e.g. {"name":"s3"})');
  }
  const namespace = set('DFSTORE_CLOUDMAP_NAMESPACE');
  const service = set('DFSTORE_CLOUDMAP_SERVICE');
  if (namespace !== service) {
    const [missing, given] = namespace
      ? ['DFSTORE_CLOUDMAP_SERVICE', 'DFSTORE_CLOUDMAP_NAMESPACE']
      : ['DFSTORE_CLOUDMAP_NAMESPACE', 'DFSTORE_CLOUDMAP_SERVICE'];
    problems.push(`${missing}: required when ${given} is set`);
  }
  if (!namespace && !service && set('DFSTORE_CLOUDMAP_CACHE_TTL')) {
    problems.push('DFSTORE_CLOUDMAP_CACHE_TTL: only with DFSTORE_CLOUDMAP_NAMESPACE and _SERVICE');
  }
  if ((namespace || service) && set('DFSTORE_SEED_PEERS')) {
    problems.push('DFSTORE_SEED_PEERS: set either it or DFSTORE_CLOUDMAP_*, not both');
  }
  if (problems.length > 0) throw new ConfigError(MANAGER_ENV_SOURCE, problems);
  return parseManagerConfig(input, { cwd: options.cwd, source: MANAGER_ENV_SOURCE, fromEnv });
}

const INVALID_JSON = Symbol('invalid JSON');

function parseValue(value: string, kind: Kind): unknown {
  if (kind === 'int') return /^\d+$/.test(value) ? Number(value) : value;
  if (kind === 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return INVALID_JSON;
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  const [head, ...rest] = path;
  if (head === undefined) return;
  if (rest.length === 0) {
    target[head] = value;
    return;
  }
  target[head] ??= {};
  setPath(target[head] as Record<string, unknown>, rest, value);
}
