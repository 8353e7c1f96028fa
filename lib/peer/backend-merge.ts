import { fileURLToPath } from 'node:url';
import type { BackendConfig } from '../config/backend-config.ts';
import type { ObjectStorageInfo } from '../manager/object-storage-info.ts';

export type MergeResult =
  | { readonly kind: 'same' }
  | { readonly kind: 'changed'; readonly config: BackendConfig }
  | { readonly kind: 'incompatible'; readonly reason: string };

/**
 * The backend config a peer should use once the manager served `info` (DESIGN.md §6). The
 * manager serves where the objects live (kind, region, endpoint, path style) and never the
 * credentials: those stay in the peer's own config or its default credential chain (the task
 * role on AWS). So the manager can move the cluster to another endpoint or region of the same
 * kind without a restart; a change of kind needs credentials the peer does not have, and is
 * refused (`incompatible`) until the peer's own config names that kind.
 */
export function mergeBackendConfig(local: BackendConfig, info: ObjectStorageInfo): MergeResult {
  if (info.name !== local.name) {
    return {
      kind: 'incompatible',
      reason: `the manager serves a ${info.name} backend, this peer is configured for ${local.name}`,
    };
  }
  let merged: BackendConfig;
  switch (local.name) {
    case 's3':
      merged = {
        ...local,
        region: info.region || local.region,
        endpoint: info.endpoint || undefined,
        forcePathStyle: info.s3ForcePathStyle,
      };
      break;
    case 'oss':
      merged = {
        ...local,
        region: info.region || local.region,
        endpoint: info.endpoint || local.endpoint,
      };
      break;
    case 'fs': {
      if (!info.endpoint.startsWith('file:')) {
        return { kind: 'incompatible', reason: `fs endpoint ${info.endpoint} is not a file URL` };
      }
      merged = { ...local, root: fileURLToPath(info.endpoint) };
      break;
    }
  }
  return sameConfig(local, merged) ? { kind: 'same' } : { kind: 'changed', config: merged };
}

function sameConfig(a: BackendConfig, b: BackendConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
