import { type BackendConfigInput, backendConfigSchema } from '../config/backend-config.ts';
import { createFsBackend } from './fs-backend.ts';
import type { ObjectBackend } from './object-backend.ts';
import { createOssBackend } from './oss-backend.ts';
import { createS3Backend } from './s3-backend.ts';

/** Builds the backend a config names. The one place that knows every adapter. */
export function createBackend(input: BackendConfigInput): ObjectBackend {
  const config = backendConfigSchema.parse(input);
  switch (config.name) {
    case 's3':
      return createS3Backend(config);
    case 'oss':
      return createOssBackend(config);
    case 'fs':
      return createFsBackend(config);
  }
}
