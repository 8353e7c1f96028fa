import { pathToFileURL } from 'node:url';
import type { BackendConfig } from '../config/backend-config.ts';

/** Dragonfly's object storage config as the manager serves it, minus the keys. */
export interface ObjectStorageInfo {
  readonly name: string;
  readonly region: string;
  readonly endpoint: string;
  readonly s3ForcePathStyle: boolean;
}

/**
 * The public fields of a backend config, picked one by one so that credentials (S3 keys, OSS
 * keys, the fs presign secret) can never reach the response, whatever the config carries.
 * fs reports what the fs backend's `GET /metadata` does (region `local`, a file URL).
 */
export function objectStorageInfo(config: BackendConfig): ObjectStorageInfo {
  switch (config.name) {
    case 's3':
      return {
        name: 's3',
        region: config.region,
        endpoint: config.endpoint ?? '',
        s3ForcePathStyle: config.forcePathStyle,
      };
    case 'oss':
      return {
        name: 'oss',
        region: config.region,
        endpoint: config.endpoint,
        s3ForcePathStyle: false,
      };
    case 'fs':
      return {
        name: 'fs',
        region: 'local',
        endpoint: pathToFileURL(config.root).href,
        s3ForcePathStyle: false,
      };
  }
}
