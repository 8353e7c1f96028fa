import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { BackendConfig } from './backend-config.ts';
import { ConfigError, formatIssues, issueMessage, readYamlConfig } from './config-file.ts';

export { ConfigError } from './config-file.ts';

import {
  type LOG_LEVELS,
  type ParsedPeerConfig,
  type PortRange,
  peerConfigSchema,
} from './peer-config-schema.ts';

export type { PortRange } from './peer-config-schema.ts';

export type LogLevel = (typeof LOG_LEVELS)[number];
export type PeerRole = ParsedPeerConfig['role'];

export interface TcpListen {
  readonly listen: string;
  readonly port: PortRange;
}

/** TLS material as PEM text (files already read). */
export interface TlsSecurity {
  readonly cert: string;
  readonly key: string;
  readonly caCert?: string;
  /** Require and verify client certificates against `caCert`. */
  readonly tlsVerify: boolean;
}

/** The validated daemon config: every default filled in, paths absolute, PEM files read. */
export interface PeerConfig {
  readonly role: PeerRole;
  /** Identity and address for other daemons; filled in at start when absent (see daemon.ts). */
  readonly host: { readonly id?: string; readonly advertiseIP?: string };
  readonly logLevel: LogLevel;
  readonly shutdownTimeoutMs: number;
  readonly objectStorage: {
    readonly enable: boolean;
    readonly filter: string;
    readonly maxReplicas: number;
    /** Durations in ms. */
    readonly writeBack: {
      readonly concurrency: number;
      readonly retryBase: number;
      readonly retryCap: number;
    };
    readonly tcpListen: TcpListen;
    /** Undefined: plain HTTP (`security.insecure: true`, the default). */
    readonly tls?: TlsSecurity;
  };
  readonly upload: { readonly tcpListen: TcpListen };
  readonly storage: { readonly dataDir: string; readonly capacity: number };
  /** Abuse bounds: bytes and ms (SECURITY.md). */
  readonly limits: {
    readonly maxObjectSize: number;
    readonly headersTimeout: number;
    readonly bodyIdleTimeout: number;
  };
  /** Manager endpoints as URL origins (`host:port` becomes `http://host:port`). */
  readonly manager: { readonly netAddrs: readonly string[] };
  readonly backend: BackendConfig;
  /** Undefined: `/metrics` is served on the piece server. */
  readonly metrics?: TcpListen;
}

/**
 * Environment variables that override config keys (empty values are ignored). Applied before
 * validation, so a bad value is reported under its key path, naming the variable.
 */
export const ENV_OVERRIDES: Readonly<
  Record<string, { path: readonly string[]; kind?: 'int' | 'list' }>
> = {
  DFSTORE_ROLE: { path: ['role'] },
  DFSTORE_PEER_ID: { path: ['host', 'id'] },
  DFSTORE_ADVERTISE_IP: { path: ['host', 'advertiseIP'] },
  DFSTORE_LOG_LEVEL: { path: ['logLevel'] },
  DFSTORE_DATA_DIR: { path: ['storage', 'dataDir'] },
  DFSTORE_CAPACITY: { path: ['storage', 'capacity'] },
  DFSTORE_API_LISTEN: { path: ['objectStorage', 'tcpListen', 'listen'] },
  DFSTORE_API_PORT: { path: ['objectStorage', 'tcpListen', 'port'], kind: 'int' },
  DFSTORE_PIECE_LISTEN: { path: ['upload', 'tcpListen', 'listen'] },
  DFSTORE_PIECE_PORT: { path: ['upload', 'tcpListen', 'port'], kind: 'int' },
  DFSTORE_MANAGER_ADDRS: { path: ['manager', 'netAddrs'], kind: 'list' },
};

export interface LoadOptions {
  /** Relative paths (dataDir, fs backend root, PEM files) resolve against this; process.cwd(). */
  readonly cwd?: string;
}

/**
 * Reads the YAML config at `path` (none: every default), applies `env` overrides, validates.
 * Throws ConfigError naming the key path of each problem.
 */
export async function loadPeerConfig(
  path: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  options: LoadOptions = {},
): Promise<PeerConfig> {
  const { raw, source } = await readYamlConfig(path);
  const { input, fromEnv } = applyEnv(raw, env);
  const config = parsePeerConfig(input, { ...options, source, fromEnv });
  return loadPem(config, options.cwd ?? process.cwd(), source);
}

/**
 * Validates a config object (already-parsed YAML) and fills every default. TLS fields still hold
 * what the file said (inline PEM or a path): loadPeerConfig reads them.
 */
export function parsePeerConfig(
  raw: unknown,
  options: LoadOptions & { source?: string; fromEnv?: ReadonlyMap<string, string> } = {},
): PeerConfig {
  const result = peerConfigSchema.safeParse(raw, { error: issueMessage });
  if (!result.success) {
    throw new ConfigError(
      options.source ?? '(object)',
      formatIssues(result.error, options.fromEnv),
    );
  }
  const parsed = result.data;
  const cwd = options.cwd ?? process.cwd();
  const dataDir = resolve(cwd, parsed.storage.dataDir);
  // Seed peers serve other hosts; a plain peer is a loopback sidecar unless told otherwise.
  const defaultListen = parsed.role === 'seed-peer' ? '0.0.0.0' : '127.0.0.1';
  const listenOf = (t: { listen?: string; port: PortRange }) => ({
    listen: t.listen ?? defaultListen,
    port: t.port,
  });
  const { security, ...objectStorage } = parsed.objectStorage;
  return {
    role: parsed.role,
    host: parsed.host,
    logLevel: parsed.logLevel,
    shutdownTimeoutMs: parsed.shutdownTimeout,
    objectStorage: {
      ...objectStorage,
      tcpListen: listenOf(objectStorage.tcpListen),
      tls:
        security.insecure || !security.cert || !security.key
          ? undefined
          : {
              cert: security.cert,
              key: security.key,
              caCert: security.caCert,
              tlsVerify: security.tlsVerify,
            },
    },
    upload: { tcpListen: listenOf(parsed.upload.tcpListen) },
    storage: { dataDir, capacity: parsed.storage.capacity },
    limits: {
      ...parsed.limits,
      maxObjectSize: parsed.limits.maxObjectSize ?? parsed.storage.capacity,
    },
    manager: { netAddrs: parsed.manager.netAddrs },
    backend: resolveBackend(parsed.backend, dataDir, cwd),
    metrics: parsed.metrics
      ? { listen: parsed.metrics.listen, port: parsed.metrics.port }
      : undefined,
  };
}

/**
 * No backend configured: the embedded fs backend in `backend/` beside dataDir, so daemons whose
 * data dirs are siblings (the local cluster: `.dfstore/peer`, `.dfstore/seed-peer`) share one
 * backend at `.dfstore/backend`.
 */
function resolveBackend(
  backend: BackendConfig | undefined,
  dataDir: string,
  cwd: string,
): BackendConfig {
  if (!backend) return { name: 'fs', root: resolve(dirname(dataDir), 'backend') };
  return backend.name === 'fs' ? { ...backend, root: resolve(cwd, backend.root) } : backend;
}

/** Replaces PEM file paths by their contents (Dragonfly's PEMContent: inline PEM or a path). */
async function loadPem(config: PeerConfig, cwd: string, source: string): Promise<PeerConfig> {
  const tls = config.objectStorage.tls;
  if (!tls) return config;
  const read = async (key: 'cert' | 'key' | 'caCert', value: string | undefined) => {
    if (value === undefined || value.trim().startsWith('-----BEGIN ')) return value?.trim();
    try {
      return (await readFile(resolve(cwd, value), 'utf8')).trim();
    } catch (error) {
      const message = `cannot read ${value}: ${(error as NodeJS.ErrnoException).code ?? error}`;
      throw new ConfigError(source, [`objectStorage.security.${key}: ${message}`]);
    }
  };
  const loaded: TlsSecurity = {
    cert: (await read('cert', tls.cert)) ?? '',
    key: (await read('key', tls.key)) ?? '',
    caCert: await read('caCert', tls.caCert),
    tlsVerify: tls.tlsVerify,
  };
  return { ...config, objectStorage: { ...config.objectStorage, tls: loaded } };
}

function applyEnv(
  raw: unknown,
  env: Readonly<Record<string, string | undefined>>,
): { input: unknown; fromEnv: Map<string, string> } {
  const input = structuredClone(raw) as Record<string, unknown>;
  const fromEnv = new Map<string, string>();
  for (const [name, { path, kind }] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    let node = input;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      node[key] = next !== null && typeof next === 'object' && !Array.isArray(next) ? next : {};
      node = node[key] as Record<string, unknown>;
    }
    const last = path.at(-1) ?? '';
    node[last] =
      kind === 'int' && /^\d+$/.test(value)
        ? Number(value)
        : kind === 'list'
          ? value
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : value;
    fromEnv.set(path.join('.'), name);
  }
  return { input, fromEnv };
}
