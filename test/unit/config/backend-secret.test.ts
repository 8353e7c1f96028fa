import type { GetSecretValueCommandOutput } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { mergeBackendKeys, type OssBackendLocation } from '../../../lib/config/backend-secret.ts';
import { ConfigError } from '../../../lib/config/config-errors.ts';
import { parseObjectsFunctionEnv } from '../../../lib/config/objects-function-env.ts';
import type { GetSecretValueClient } from '../../../lib/function/api-token.ts';
import { resolveBackendConfig } from '../../../lib/function/backend-secret.ts';

const SECRET_ARN = 'arn:aws:secretsmanager:cn-hangzhou:123456789012:secret:dfstore-oss-AbCdEf';
const LOCATION = { name: 'oss', region: 'oss-cn-hangzhou', endpoint: 'https://oss.example' };
const KEYS = { accessKeyId: 'LTAI-id', accessKeySecret: 'the-secret' };
const env = (backend: object, extra: Record<string, string> = {}) => ({
  DFSTORE_BACKEND: JSON.stringify(backend),
  DFSTORE_BACKEND_SECRET_ARN: SECRET_ARN,
  DFSTORE_AUTH: 'iam',
  ...extra,
});

function issues(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

/** A Secrets Manager client answering `secret` for `SECRET_ARN` only, recording the requests. */
function fakeSecrets(secret: string | undefined) {
  const asked: (string | undefined)[] = [];
  const client: GetSecretValueClient = {
    async send(command) {
      asked.push(command.input.SecretId);
      if (command.input.SecretId !== SECRET_ARN) throw new Error('AccessDeniedException');
      return { SecretString: secret, $metadata: {} } as GetSecretValueCommandOutput;
    },
  };
  return { client, asked };
}

describe('DFSTORE_BACKEND_SECRET_ARN in the object API function env', () => {
  it('takes an OSS location without keys and keeps the ARN', () => {
    const config = parseObjectsFunctionEnv(env(LOCATION));
    expect(config.backendSecretArn).toBe(SECRET_ARN);
    expect(config.backend).toMatchObject(LOCATION);
    expect(config.backend).not.toHaveProperty('accessKeyId');
  });

  it('is absent unless set, and DFSTORE_BACKEND then needs the keys', () => {
    const { DFSTORE_BACKEND_SECRET_ARN: _, ...plain } = env({ ...LOCATION, ...KEYS });
    expect(parseObjectsFunctionEnv(plain)).not.toHaveProperty('backendSecretArn');
    const { DFSTORE_BACKEND_SECRET_ARN: __, ...keyless } = env(LOCATION);
    expect(issues(() => parseObjectsFunctionEnv(keyless))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^DFSTORE_BACKEND\.accessKeyId: required/)]),
    );
  });

  it('refuses keys in both places, a non-OSS backend and a malformed ARN', () => {
    expect(issues(() => parseObjectsFunctionEnv(env({ ...LOCATION, ...KEYS })))).toEqual([
      'DFSTORE_BACKEND: accessKeyId, accessKeySecret must not be set with DFSTORE_BACKEND_SECRET_ARN',
    ]);
    expect(issues(() => parseObjectsFunctionEnv(env({ name: 's3' })))).toContain(
      'DFSTORE_BACKEND_SECRET_ARN: only with an oss backend (DFSTORE_BACKEND.name)',
    );
    expect(
      issues(() =>
        parseObjectsFunctionEnv(env(LOCATION, { DFSTORE_BACKEND_SECRET_ARN: 'dfstore-oss' })),
      ),
    ).toEqual(['DFSTORE_BACKEND_SECRET_ARN: must be a Secrets Manager secret ARN']);
  });
});

describe('mergeBackendKeys', () => {
  const location = { ...LOCATION, sldEnable: false } as OssBackendLocation;

  it('puts the secret keys into the OSS location', () => {
    expect(mergeBackendKeys(location, JSON.stringify({ ...KEYS, note: 'x' }))).toEqual({
      ...location,
      ...KEYS,
    });
  });

  it('names what the secret lacks and never quotes it', () => {
    const missing = issues(() => mergeBackendKeys(location, '{"accessKeyId":"LTAI-id"}'));
    expect(missing).toEqual(['accessKeySecret: the secret needs a non-empty string']);
    const notJson = issues(() => mergeBackendKeys(location, 'LTAI-id:the-secret'));
    expect(notJson).toEqual(['the secret is not JSON {"accessKeyId": …, "accessKeySecret": …}']);
    expect(issues(() => mergeBackendKeys(location, undefined))).toHaveLength(1);
    expect(JSON.stringify([...missing, ...notJson])).not.toContain('the-secret');
  });
});

describe('resolveBackendConfig', () => {
  it('reads the secret once and returns a config createBackend accepts', async () => {
    const { client, asked } = fakeSecrets(JSON.stringify(KEYS));
    const config = parseObjectsFunctionEnv(env(LOCATION));
    const backend = await resolveBackendConfig(config.backend, config.backendSecretArn, client);
    expect(backend).toMatchObject({ ...LOCATION, ...KEYS });
    expect(asked).toEqual([SECRET_ARN]);
  });

  it('returns the env backend untouched without a secret, asking nothing', async () => {
    const { client, asked } = fakeSecrets(undefined);
    const config = parseObjectsFunctionEnv({
      DFSTORE_BACKEND: JSON.stringify({ name: 's3', region: 'eu-west-1' }),
      DFSTORE_AUTH: 'iam',
    });
    expect(await resolveBackendConfig(config.backend, undefined, client)).toBe(config.backend);
    expect(asked).toEqual([]);
  });

  it('fails the cold start on a bad secret or a failed read', async () => {
    await expect(
      resolveBackendConfig(LOCATION as OssBackendLocation, SECRET_ARN, fakeSecrets('{}').client),
    ).rejects.toBeInstanceOf(ConfigError);
    await expect(
      resolveBackendConfig(
        LOCATION as OssBackendLocation,
        `${SECRET_ARN}-other`,
        fakeSecrets('{}').client,
      ),
    ).rejects.toThrow('AccessDeniedException');
  });
});
