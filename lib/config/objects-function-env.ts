import { resolve } from 'node:path';
import * as z from 'zod';
import { type BackendConfig, backendConfigSchema } from './backend-config.ts';
import {
  BACKEND_SECRET_VARIABLE,
  type OssBackendLocation,
  ossLocationSchema,
} from './backend-secret.ts';
import { ConfigError, formatIssues, issueMessage } from './config-errors.ts';
import { DEFAULT_OBJECT_STORAGE_FILTER, LOG_LEVELS } from './peer-config-schema.ts';
import { parseByteSize, parseDuration } from './units.ts';

/**
 * The object API function's config (functions/objects.ts), from environment variables only, read
 * once at cold start. Every problem names its variable (values are never quoted back: some hold
 * credentials), and the function's init fails with all of them.
 */

const MiB = 1024 * 1024;
export const DEFAULT_INLINE_LIMIT = 4 * MiB;
/**
 * A function URL carries at most 6 MiB of JSON per request or response, and bodies travel as
 * base64 (4/3 of their size) next to headers and multipart framing: 4.25 MiB still fits.
 */
export const MAX_INLINE_LIMIT = 4.25 * MiB;
export const ENV_SOURCE = '(environment)';

export type FunctionAuthConfig =
  | { readonly mode: 'token'; readonly token: string }
  | { readonly mode: 'token'; readonly secretArn: string }
  | { readonly mode: 'iam' };

export interface StaticSeedPeerConfig {
  readonly id?: string;
  readonly hostname: string;
  readonly ip: string;
  readonly port: number;
  readonly downloadPort: number;
}

export type FunctionMembershipConfig =
  | { readonly kind: 'none' }
  | { readonly kind: 'static'; readonly seedPeers: readonly StaticSeedPeerConfig[] }
  | {
      readonly kind: 'cloudMap';
      readonly namespace: string;
      readonly service: string;
      readonly cacheTtlMs: number;
    };

export interface ObjectsFunctionConfig {
  /** With `backendSecretArn`, an OSS location whose keys the function reads from that secret. */
  readonly backend: BackendConfig | OssBackendLocation;
  /** DFSTORE_BACKEND_SECRET_ARN (lib/config/backend-secret.ts). */
  readonly backendSecretArn?: string;
  /** Bodies up to this many bytes pass through; larger GETs redirect, larger PUTs get a 413. */
  readonly inlineLimit: number;
  readonly auth: FunctionAuthConfig;
  readonly membership: FunctionMembershipConfig;
  /** Task-ID filter (as the peers' `objectStorage.filter`). */
  readonly filter: string;
  /** Seed peers that import an object written through an upload session. */
  readonly maxReplicas: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /** Lifetime of the presigned GET URL a large GET is redirected to. */
  readonly redirectTtlSeconds: number;
  /** Lifetime of an upload session's presigned part URLs. */
  readonly uploadTtlSeconds: number;
  /** One CloudWatch EMF line per request on stdout. */
  readonly emfMetrics: boolean;
}

const INVALID_JSON = Symbol('invalid JSON');

const json = z.unknown().transform((value, ctx) => {
  if (value === INVALID_JSON) {
    ctx.issues.push({ code: 'custom', message: 'not valid JSON', input: '' });
    return z.NEVER;
  }
  return value;
});

const seconds = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined || ms < 1000) {
        ctx.issues.push({
          code: 'custom',
          message: 'expected a duration ≥ 1s (e.g. 15m)',
          input: value,
        });
        return z.NEVER;
      }
      return Math.floor(ms / 1000);
    });

const secretArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:secretsmanager:/, 'must be a Secrets Manager secret ARN');

const servicePort = z.number().int().min(1).max(65535);
const seedPeersSchema = z.array(
  z.strictObject({
    id: z.string().min(1).optional(),
    hostname: z.string().min(1),
    ip: z.string().min(1),
    port: servicePort,
    downloadPort: servicePort,
  }),
);

const envSchema = z.object({
  DFSTORE_BACKEND: json.pipe(backendConfigSchema),
  DFSTORE_INLINE_LIMIT: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return DEFAULT_INLINE_LIMIT;
      const bytes = parseByteSize(value);
      if (bytes === undefined || bytes < 1024 || bytes > MAX_INLINE_LIMIT) {
        ctx.issues.push({
          code: 'custom',
          message: `expected a size from 1KiB to ${MAX_INLINE_LIMIT} bytes (function URL payloads are 6 MiB of base64), e.g. 4MiB`,
          input: value,
        });
        return z.NEVER;
      }
      return bytes;
    }),
  DFSTORE_AUTH: z.enum(['token', 'iam']).default('token'),
  DFSTORE_API_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  DFSTORE_API_TOKEN_SECRET_ARN: secretArn.optional(),
  [BACKEND_SECRET_VARIABLE]: secretArn.optional(),
  DFSTORE_SEED_PEERS: json.pipe(seedPeersSchema).optional(),
  DFSTORE_CLOUDMAP_NAMESPACE: z.string().optional(),
  DFSTORE_CLOUDMAP_SERVICE: z.string().optional(),
  DFSTORE_CLOUDMAP_CACHE_TTL: seconds('5s'),
  DFSTORE_FILTER: z.string().default(DEFAULT_OBJECT_STORAGE_FILTER),
  DFSTORE_MAX_REPLICAS: z
    .string()
    .default('3')
    .pipe(z.string().regex(/^\d+$/, 'must be an integer 1..100'))
    .transform(Number)
    .pipe(z.number().min(1, 'must be an integer 1..100').max(100, 'must be an integer 1..100')),
  DFSTORE_LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  DFSTORE_REDIRECT_TTL: seconds('15m'),
  DFSTORE_UPLOAD_URL_TTL: seconds('1h'),
  /** Default: `emf` inside Lambda (AWS_LAMBDA_FUNCTION_NAME is set), `off` on a local host. */
  DFSTORE_METRICS: z.enum(['emf', 'off']).optional(),
});

/** With DFSTORE_BACKEND_SECRET_ARN, DFSTORE_BACKEND is an OSS location without keys. */
const envWithBackendSecretSchema = envSchema.extend({
  DFSTORE_BACKEND: json.pipe(ossLocationSchema),
});

/**
 * Parses the function's environment (empty values count as unset). Throws ConfigError listing
 * every problem, each naming its variable. A relative fs backend root resolves against `cwd`.
 */
export function parseObjectsFunctionEnv(
  env: Readonly<Record<string, string | undefined>>,
  options: { readonly cwd?: string } = {},
): ObjectsFunctionConfig {
  const input: Record<string, unknown> = {};
  for (const name of Object.keys(envSchema.shape)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    input[name] =
      name === 'DFSTORE_BACKEND' || name === 'DFSTORE_SEED_PEERS' ? parseJson(value) : value;
  }
  const problems = combinationProblems(input);
  const missingBackend = input.DFSTORE_BACKEND === undefined;
  if (missingBackend) {
    problems.unshift('DFSTORE_BACKEND: required (a backend config as JSON, e.g. {"name":"s3"})');
  }
  const schema =
    input[BACKEND_SECRET_VARIABLE] === undefined ? envSchema : envWithBackendSecretSchema;
  const parsed = schema.safeParse(input, { error: issueMessage });
  if (!parsed.success) {
    const issues = formatIssues(parsed.error);
    problems.push(
      ...(missingBackend ? issues.filter((issue) => !issue.startsWith('DFSTORE_BACKEND')) : issues),
    );
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(ENV_SOURCE, problems);
  const e = parsed.data;
  const cwd = options.cwd ?? process.cwd();
  const backendSecretArn = e[BACKEND_SECRET_VARIABLE];
  return {
    backend:
      e.DFSTORE_BACKEND.name === 'fs'
        ? { ...e.DFSTORE_BACKEND, root: resolve(cwd, e.DFSTORE_BACKEND.root) }
        : e.DFSTORE_BACKEND,
    ...(backendSecretArn ? { backendSecretArn } : {}),
    inlineLimit: e.DFSTORE_INLINE_LIMIT,
    auth: authOf(e),
    membership: membershipOf(e),
    filter: e.DFSTORE_FILTER,
    maxReplicas: e.DFSTORE_MAX_REPLICAS,
    logLevel: e.DFSTORE_LOG_LEVEL,
    redirectTtlSeconds: e.DFSTORE_REDIRECT_TTL,
    uploadTtlSeconds: e.DFSTORE_UPLOAD_URL_TTL,
    emfMetrics: (e.DFSTORE_METRICS ?? (env.AWS_LAMBDA_FUNCTION_NAME ? 'emf' : 'off')) === 'emf',
  };
}

/** Variables that must or must not come together; checked even when a value is invalid. */
function combinationProblems(input: Readonly<Record<string, unknown>>): string[] {
  const set = (name: string) => input[name] !== undefined;
  const problems: string[] = [];
  const auth = input.DFSTORE_AUTH ?? 'token';
  const token = set('DFSTORE_API_TOKEN');
  const secretArn = set('DFSTORE_API_TOKEN_SECRET_ARN');
  if (auth === 'iam' && (token || secretArn)) {
    problems.push('DFSTORE_API_TOKEN: not used with DFSTORE_AUTH=iam (unset it and _SECRET_ARN)');
  } else if (auth === 'token' && token && secretArn) {
    problems.push('DFSTORE_API_TOKEN: set either it or DFSTORE_API_TOKEN_SECRET_ARN, not both');
  } else if (auth === 'token' && !token && !secretArn) {
    problems.push(
      'DFSTORE_API_TOKEN: required with DFSTORE_AUTH=token (or DFSTORE_API_TOKEN_SECRET_ARN)',
    );
  }
  if (set(BACKEND_SECRET_VARIABLE)) problems.push(...backendSecretProblems(input.DFSTORE_BACKEND));
  const namespace = set('DFSTORE_CLOUDMAP_NAMESPACE');
  const service = set('DFSTORE_CLOUDMAP_SERVICE');
  if (namespace !== service) {
    const [missing, given] = namespace
      ? ['DFSTORE_CLOUDMAP_SERVICE', 'DFSTORE_CLOUDMAP_NAMESPACE']
      : ['DFSTORE_CLOUDMAP_NAMESPACE', 'DFSTORE_CLOUDMAP_SERVICE'];
    problems.push(`${missing}: required when ${given} is set`);
  } else if (namespace && set('DFSTORE_SEED_PEERS')) {
    problems.push('DFSTORE_SEED_PEERS: set either it or DFSTORE_CLOUDMAP_*, not both');
  }
  return problems;
}

/** The keys come from the secret: DFSTORE_BACKEND must be OSS and must not hold them too. */
function backendSecretProblems(backend: unknown): string[] {
  if (backend === null || typeof backend !== 'object') return [];
  const fields = backend as Record<string, unknown>;
  if (fields.name !== 'oss') {
    return [`${BACKEND_SECRET_VARIABLE}: only with an oss backend (DFSTORE_BACKEND.name)`];
  }
  const inline = ['accessKeyId', 'accessKeySecret'].filter((key) => fields[key] !== undefined);
  return inline.length > 0
    ? [`DFSTORE_BACKEND: ${inline.join(', ')} must not be set with ${BACKEND_SECRET_VARIABLE}`]
    : [];
}

type Env = z.output<typeof envSchema> | z.output<typeof envWithBackendSecretSchema>;

function authOf(e: Env): FunctionAuthConfig {
  if (e.DFSTORE_AUTH === 'iam') return { mode: 'iam' };
  if (e.DFSTORE_API_TOKEN) return { mode: 'token', token: e.DFSTORE_API_TOKEN };
  return { mode: 'token', secretArn: e.DFSTORE_API_TOKEN_SECRET_ARN ?? '' };
}

function membershipOf(e: Env): FunctionMembershipConfig {
  const namespace = e.DFSTORE_CLOUDMAP_NAMESPACE;
  const service = e.DFSTORE_CLOUDMAP_SERVICE;
  if (namespace && service) {
    return {
      kind: 'cloudMap',
      namespace,
      service,
      cacheTtlMs: e.DFSTORE_CLOUDMAP_CACHE_TTL * 1000,
    };
  }
  if (e.DFSTORE_SEED_PEERS) return { kind: 'static', seedPeers: e.DFSTORE_SEED_PEERS };
  return { kind: 'none' };
}

function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return INVALID_JSON;
  }
}
