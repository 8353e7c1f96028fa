import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/config/config-file.ts';
import {
  DEFAULT_INLINE_LIMIT,
  parseObjectsFunctionEnv,
} from '../../../lib/config/objects-function-env.ts';
import { DEFAULT_OBJECT_STORAGE_FILTER } from '../../../lib/config/peer-config-schema.ts';

const S3 = JSON.stringify({ name: 's3', region: 'eu-west-1' });
const TOKEN = 'a-token-of-at-least-16-chars';
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:dfstore-AbCdEf';

const base = (): Record<string, string> => ({ DFSTORE_BACKEND: S3, DFSTORE_API_TOKEN: TOKEN });

/** The ConfigError's issues for `env`. */
function problems(env: Record<string, string | undefined>): readonly string[] {
  try {
    parseObjectsFunctionEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseObjectsFunctionEnv', () => {
  it('fills every default', () => {
    expect(parseObjectsFunctionEnv(base())).toEqual({
      backend: {
        name: 's3',
        region: 'eu-west-1',
        forcePathStyle: false,
        multipartThreshold: 16 * 1024 * 1024,
        partSize: 6 * 1024 * 1024,
        queueSize: 3,
        requestTimeoutMs: 60_000,
      },
      inlineLimit: DEFAULT_INLINE_LIMIT,
      auth: { mode: 'token', token: TOKEN },
      membership: { kind: 'none' },
      filter: DEFAULT_OBJECT_STORAGE_FILTER,
      maxReplicas: 3,
      logLevel: 'info',
      redirectTtlSeconds: 900,
      uploadTtlSeconds: 3600,
      emfMetrics: false,
    });
  });

  it('writes EMF metrics inside Lambda unless told otherwise', () => {
    const lambda = { ...base(), AWS_LAMBDA_FUNCTION_NAME: 'dfstore-objects' };
    expect(parseObjectsFunctionEnv(lambda).emfMetrics).toBe(true);
    expect(parseObjectsFunctionEnv({ ...lambda, DFSTORE_METRICS: 'off' }).emfMetrics).toBe(false);
    expect(parseObjectsFunctionEnv({ ...base(), DFSTORE_METRICS: 'emf' }).emfMetrics).toBe(true);
  });

  it('reads every variable', () => {
    const config = parseObjectsFunctionEnv(
      {
        DFSTORE_BACKEND: JSON.stringify({ name: 'fs', root: 'data' }),
        DFSTORE_INLINE_LIMIT: '1MiB',
        DFSTORE_API_TOKEN_SECRET_ARN: ARN,
        DFSTORE_SEED_PEERS: JSON.stringify([
          { hostname: 'seed', ip: '10.0.0.1', port: 65004, downloadPort: 65002 },
        ]),
        DFSTORE_FILTER: 'Expires',
        DFSTORE_MAX_REPLICAS: '5',
        DFSTORE_LOG_LEVEL: 'debug',
        DFSTORE_REDIRECT_TTL: '5m',
        DFSTORE_UPLOAD_URL_TTL: '6h',
      },
      { cwd: '/srv' },
    );
    expect(config).toMatchObject({
      backend: { name: 'fs', root: '/srv/data' },
      inlineLimit: 1024 * 1024,
      auth: { mode: 'token', secretArn: ARN },
      membership: { kind: 'static', seedPeers: [{ hostname: 'seed', ip: '10.0.0.1' }] },
      filter: 'Expires',
      maxReplicas: 5,
      logLevel: 'debug',
      redirectTtlSeconds: 300,
      uploadTtlSeconds: 21_600,
    });
  });

  it('reads Cloud Map membership and IAM auth', () => {
    const config = parseObjectsFunctionEnv({
      DFSTORE_BACKEND: S3,
      DFSTORE_AUTH: 'iam',
      DFSTORE_CLOUDMAP_NAMESPACE: 'dfstore.local',
      DFSTORE_CLOUDMAP_SERVICE: 'seed-peer',
    });
    expect(config.auth).toEqual({ mode: 'iam' });
    expect(config.membership).toEqual({
      kind: 'cloudMap',
      namespace: 'dfstore.local',
      service: 'seed-peer',
      cacheTtlMs: 5000,
    });
  });

  it.each([
    ['DFSTORE_BACKEND missing', { DFSTORE_BACKEND: undefined }, /^DFSTORE_BACKEND: required/],
    [
      'DFSTORE_BACKEND not JSON',
      { DFSTORE_BACKEND: '{name: s3' },
      /^DFSTORE_BACKEND: not valid JSON/,
    ],
    [
      'a bad backend field',
      { DFSTORE_BACKEND: '{"name":"s3","endpoint":"nope"}' },
      /^DFSTORE_BACKEND\.endpoint: /,
    ],
    ['an unknown backend', { DFSTORE_BACKEND: '{"name":"gcs"}' }, /^DFSTORE_BACKEND/],
    [
      'a non-size inline limit',
      { DFSTORE_INLINE_LIMIT: 'lots' },
      /^DFSTORE_INLINE_LIMIT: expected a size/,
    ],
    [
      'an inline limit over a function URL payload',
      { DFSTORE_INLINE_LIMIT: '6MiB' },
      /^DFSTORE_INLINE_LIMIT: /,
    ],
    [
      'an unknown auth mode',
      { DFSTORE_AUTH: 'none' },
      /^DFSTORE_AUTH: must be one of "token", "iam"/,
    ],
    ['no token in token mode', { DFSTORE_API_TOKEN: undefined }, /^DFSTORE_API_TOKEN: required/],
    ['a short token', { DFSTORE_API_TOKEN: 'short' }, /^DFSTORE_API_TOKEN: must be at least 16/],
    [
      'token and secret both',
      { DFSTORE_API_TOKEN_SECRET_ARN: ARN },
      /^DFSTORE_API_TOKEN: set either/,
    ],
    [
      'a secret ARN that is not one',
      { DFSTORE_API_TOKEN: undefined, DFSTORE_API_TOKEN_SECRET_ARN: 'dfstore-token' },
      /^DFSTORE_API_TOKEN_SECRET_ARN: /,
    ],
    ['a token with IAM auth', { DFSTORE_AUTH: 'iam' }, /^DFSTORE_API_TOKEN: not used/],
    ['seed peers not JSON', { DFSTORE_SEED_PEERS: '[' }, /^DFSTORE_SEED_PEERS: not valid JSON/],
    [
      'a seed peer with a bad port',
      { DFSTORE_SEED_PEERS: '[{"hostname":"h","ip":"1.2.3.4","port":0,"downloadPort":1}]' },
      /^DFSTORE_SEED_PEERS\[0\]\.port: /,
    ],
    [
      'half of Cloud Map',
      { DFSTORE_CLOUDMAP_NAMESPACE: 'ns' },
      /^DFSTORE_CLOUDMAP_SERVICE: required/,
    ],
    [
      'static and Cloud Map',
      { DFSTORE_CLOUDMAP_NAMESPACE: 'ns', DFSTORE_CLOUDMAP_SERVICE: 's', DFSTORE_SEED_PEERS: '[]' },
      /^DFSTORE_SEED_PEERS: set either/,
    ],
    [
      'max replicas 0',
      { DFSTORE_MAX_REPLICAS: '0' },
      /^DFSTORE_MAX_REPLICAS: must be an integer 1\.\.100/,
    ],
    ['max replicas not a number', { DFSTORE_MAX_REPLICAS: 'three' }, /^DFSTORE_MAX_REPLICAS: /],
    ['an unknown log level', { DFSTORE_LOG_LEVEL: 'loud' }, /^DFSTORE_LOG_LEVEL: must be one of/],
    [
      'a bad redirect TTL',
      { DFSTORE_REDIRECT_TTL: '10' },
      /^DFSTORE_REDIRECT_TTL: expected a duration/,
    ],
  ])('names the variable for %s', (_, change, message) => {
    const issues = problems({ ...base(), ...change });
    expect(
      issues.some((issue) => message.test(issue)),
      issues.join('\n'),
    ).toBe(true);
  });

  it('never quotes the backend config back (it may hold credentials)', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const issues = problems({
      ...base(),
      DFSTORE_BACKEND: JSON.stringify({ name: 's3', secretAccessKey: secret, endpoint: 'x' }),
    });
    expect(issues.join('\n')).not.toContain(secret);
  });

  it('treats empty variables as unset', () => {
    expect(parseObjectsFunctionEnv({ ...base(), DFSTORE_INLINE_LIMIT: '' }).inlineLimit).toBe(
      DEFAULT_INLINE_LIMIT,
    );
  });
});
