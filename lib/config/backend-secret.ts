import * as z from 'zod';
import { type OssBackendConfig, ossBackendConfigSchema } from './backend-config.ts';
import { ConfigError } from './config-errors.ts';

/**
 * OSS keys kept out of DFSTORE_BACKEND: a Secrets Manager secret (DFSTORE_BACKEND_SECRET_ARN)
 * holds them as JSON `{"accessKeyId": …, "accessKeySecret": …}` and the object API function reads
 * it once at cold start (lib/function/backend-secret.ts), so the keys never appear in a template
 * or in the function's configuration.
 */
export const BACKEND_SECRET_VARIABLE = 'DFSTORE_BACKEND_SECRET_ARN';

/** DFSTORE_BACKEND when the keys come from the secret: where the objects live, no keys. */
export const ossLocationSchema = ossBackendConfigSchema.omit({
  accessKeyId: true,
  accessKeySecret: true,
});
export type OssBackendLocation = z.infer<typeof ossLocationSchema>;

const keysSchema = z.object({
  accessKeyId: z.string().min(1),
  accessKeySecret: z.string().min(1),
});

/**
 * The backend config with the secret's keys. Throws ConfigError naming the secret's variable and
 * the missing field; the secret's text is never quoted back.
 */
export function mergeBackendKeys(
  location: OssBackendLocation,
  secretString: string | undefined,
): OssBackendConfig {
  let json: unknown;
  try {
    json = JSON.parse(secretString ?? '');
  } catch {
    throw new ConfigError(BACKEND_SECRET_VARIABLE, [
      'the secret is not JSON {"accessKeyId": …, "accessKeySecret": …}',
    ]);
  }
  const keys = keysSchema.safeParse(json);
  if (!keys.success) {
    const fields = [...new Set(keys.error.issues.map((issue) => issue.path.join('.')))];
    throw new ConfigError(
      BACKEND_SECRET_VARIABLE,
      fields.map((field) => `${field || '(root)'}: the secret needs a non-empty string`),
    );
  }
  return {
    ...location,
    accessKeyId: keys.data.accessKeyId,
    accessKeySecret: keys.data.accessKeySecret,
  };
}
