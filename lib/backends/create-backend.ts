import { type BackendConfigInput, backendConfigSchema } from '../config/backend-config.ts';
import { ConfigError } from '../config/config-errors.ts';
import type { ObjectBackend } from './object-backend.ts';

/**
 * Builds the backend a config names. The one place that knows every adapter. Adapters load on
 * demand: ali-oss alone adds ~24 MB of RSS at import, which an S3 or fs deployment never needs.
 *
 * A bundle may carry one adapter only: bundled with esbuild's
 * `define: { 'process.env.DFSTORE_BUNDLE_BACKEND': '"s3"' }` (a Lambda function's bundle, whose
 * stack knows its backend; see bench/lambda.ts), the other branches fold away and their adapters
 * (ali-oss: ~800 KB minified) are not bundled. Unset, as when run from source, every adapter is
 * there.
 */
export async function createBackend(input: BackendConfigInput): Promise<ObjectBackend> {
  const config = backendConfigSchema.parse(input);
  switch (config.name) {
    case 's3':
      return process.env.DFSTORE_BUNDLE_BACKEND && process.env.DFSTORE_BUNDLE_BACKEND !== 's3'
        ? notBundled(config.name)
        : (await import('./s3-backend.ts')).createS3Backend(config);
    case 'oss':
      return process.env.DFSTORE_BUNDLE_BACKEND && process.env.DFSTORE_BUNDLE_BACKEND !== 'oss'
        ? notBundled(config.name)
        : (await import('./oss-backend.ts')).createOssBackend(config);
    case 'fs':
      return process.env.DFSTORE_BUNDLE_BACKEND && process.env.DFSTORE_BUNDLE_BACKEND !== 'fs'
        ? notBundled(config.name)
        : (await import('./fs-backend.ts')).createFsBackend(config);
  }
}

function notBundled(name: string): never {
  throw new ConfigError('DFSTORE_BACKEND', [
    `name: backend "${name}" is not in this bundle (built for "${process.env.DFSTORE_BUNDLE_BACKEND}")`,
  ]);
}
