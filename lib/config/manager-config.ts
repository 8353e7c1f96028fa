import { resolve } from 'node:path';
import * as z from 'zod';
import { type BackendConfig, backendConfigSchema } from './backend-config.ts';
import { ConfigError, formatIssues, issueMessage } from './config-errors.ts';
import { DEFAULT_OBJECT_STORAGE_FILTER, LOG_LEVELS } from './peer-config-schema.ts';
import { parseDuration } from './units.ts';

export { ConfigError } from './config-errors.ts';

/**
 * The manager's YAML config. Objects are strict so a misspelt key fails loudly. Durations are
 * strings like `10m`; `peerConfig.refreshInterval` is served to peers in seconds.
 */

export const DEFAULT_MANAGER_LISTEN = '127.0.0.1';
export const DEFAULT_MANAGER_PORT = 65003;
export const DEFAULT_REFRESH_INTERVAL = '10m';
export const DEFAULT_DATA_DIR = './.dfstore';

const port = z.number().int().min(0).max(65535);
const servicePort = z.number().int().min(1).max(65535);

const durationSchema = z.string().transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.issues.push({
      code: 'custom',
      message: `invalid duration ${JSON.stringify(value)} (e.g. 30s, 10m)`,
      input: value,
    });
    return z.NEVER;
  }
  return ms;
});

const seedPeerSchema = z.strictObject({
  id: z.string().min(1).optional(),
  hostname: z.string().min(1),
  ip: z.string().min(1),
  /** Object API port. */
  port: servicePort,
  /** Piece server port. */
  downloadPort: servicePort,
});

export const managerConfigSchema = z.strictObject({
  logLevel: z.enum(LOG_LEVELS).default('info'),
  shutdownTimeout: durationSchema.prefault('10s'),
  listen: z.string().min(1).default(DEFAULT_MANAGER_LISTEN),
  port: port.default(DEFAULT_MANAGER_PORT),
  /** Absent: the embedded fs backend in `./.dfstore/backend`, shared with the local peers. */
  backend: backendConfigSchema.optional(),
  /** Used when `cloudMap` is absent. */
  seedPeers: z.array(seedPeerSchema).default([]),
  cloudMap: z
    .strictObject({
      namespace: z.string().min(1),
      service: z.string().min(1),
      cacheTtl: durationSchema.prefault('5s'),
    })
    .optional(),
  /** What `GET /api/v1/peer-config` serves. */
  peerConfig: z
    .strictObject({
      filter: z.string().default(DEFAULT_OBJECT_STORAGE_FILTER),
      maxReplicas: z.number().int().min(1).max(100).default(3),
      refreshInterval: durationSchema.prefault(DEFAULT_REFRESH_INTERVAL),
    })
    .prefault({}),
});

export type ManagerConfigInput = z.input<typeof managerConfigSchema>;
export type StaticSeedPeer = z.output<typeof seedPeerSchema>;
type Parsed = z.output<typeof managerConfigSchema>;

/** The validated manager config: defaults filled, the fs backend root absolute. */
export interface ManagerConfig extends Omit<Parsed, 'backend' | 'shutdownTimeout' | 'cloudMap'> {
  readonly shutdownTimeoutMs: number;
  readonly backend: BackendConfig;
  readonly cloudMap?: {
    readonly namespace: string;
    readonly service: string;
    readonly cacheTtlMs: number;
  };
}

/** Environment variables that override config keys (empty values are ignored). */
export const MANAGER_ENV_OVERRIDES: Readonly<
  Record<string, { key: 'listen' | 'port' | 'logLevel' }>
> = {
  DFSTORE_MANAGER_LISTEN: { key: 'listen' },
  DFSTORE_MANAGER_PORT: { key: 'port' },
  DFSTORE_LOG_LEVEL: { key: 'logLevel' },
};

/** Validates a config object (already-parsed YAML) and fills every default. */
export function parseManagerConfig(
  raw: unknown,
  options: { cwd?: string; source?: string; fromEnv?: ReadonlyMap<string, string> } = {},
): ManagerConfig {
  const result = managerConfigSchema.safeParse(raw, { error: issueMessage });
  if (!result.success) {
    const issues = formatIssues(result.error, options.fromEnv);
    throw new ConfigError(options.source ?? '(object)', issues);
  }
  const { backend, shutdownTimeout, cloudMap, ...rest } = result.data;
  const cwd = options.cwd ?? process.cwd();
  return {
    ...rest,
    shutdownTimeoutMs: shutdownTimeout,
    backend: !backend
      ? { name: 'fs', root: resolve(cwd, DEFAULT_DATA_DIR, 'backend') }
      : backend.name === 'fs'
        ? { ...backend, root: resolve(cwd, backend.root) }
        : backend,
    cloudMap: cloudMap && {
      namespace: cloudMap.namespace,
      service: cloudMap.service,
      cacheTtlMs: cloudMap.cacheTtl,
    },
  };
}
