import type { BackendConfig } from '../config/backend-config.ts';
import { mergeBackendKeys, type OssBackendLocation } from '../config/backend-secret.ts';
import type { GetSecretValueClient } from './api-token.ts';

/**
 * The object API function's backend config, with the OSS keys read from `secretArn` when the
 * environment gave one (lib/config/backend-secret.ts). Called once at cold start; a failure fails
 * the init. The SDK is imported only here, so a deployment without the secret never loads it.
 */
export async function resolveBackendConfig(
  backend: BackendConfig | OssBackendLocation,
  secretArn: string | undefined,
  client?: GetSecretValueClient,
): Promise<BackendConfig> {
  // Without a secret, parseObjectsFunctionEnv validated DFSTORE_BACKEND as a whole config.
  if (secretArn === undefined) return backend as BackendConfig;
  if (backend.name !== 'oss') throw new Error(`a backend secret is for oss, not ${backend.name}`);
  const sdk = await import('@aws-sdk/client-secrets-manager');
  // The secret may live in another region than the function: ask that region.
  const secrets = client ?? new sdk.SecretsManagerClient({ region: secretArn.split(':')[3] });
  const output = await secrets.send(new sdk.GetSecretValueCommand({ SecretId: secretArn }));
  return mergeBackendKeys(backend, output.SecretString);
}
