import { type BackendConfigInput, backendConfigSchema } from '../config/backend-config.ts';
import type { ObjectBackend } from './object-backend.ts';

/**
 * Builds the backend a config names. The one place that knows every adapter. Adapters load on
 * demand: ali-oss alone adds ~24 MB of RSS at import, which an S3 or fs deployment never needs.
 */
export async function createBackend(input: BackendConfigInput): Promise<ObjectBackend> {
  const config = backendConfigSchema.parse(input);
  switch (config.name) {
    case 's3':
      return (await import('./s3-backend.ts')).createS3Backend(config);
    case 'oss':
      return (await import('./oss-backend.ts')).createOssBackend(config);
    case 'fs':
      return (await import('./fs-backend.ts')).createFsBackend(config);
  }
}
