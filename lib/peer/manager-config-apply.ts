import { createBackend } from '../backends/create-backend.ts';
import type { PeerConfig } from '../config/peer-config.ts';
import type { Logger } from '../storage/deps.ts';
import { mergeBackendConfig } from './backend-merge.ts';
import type { ManagerChangeListener } from './manager-client.ts';
import type { PeerNode } from './peer-node.ts';

export interface ManagerConfigTarget {
  readonly config: PeerConfig;
  /** Read per request by the object service. */
  readonly settings: { filter: string; maxReplicas: number };
  readonly node: Pick<PeerNode, 'setBackend'>;
  readonly logger: Logger;
}

/**
 * Applies each new manager snapshot: its peer config (filter, maxReplicas) at once, and a changed
 * backend location by building a new backend and swapping it in (requests and write-backs in
 * flight finish on the old one). Backend swaps run one at a time, in snapshot order.
 */
export function applyManagerConfig(target: ManagerConfigTarget): ManagerChangeListener {
  const { config, settings, node, logger } = target;
  let applied = JSON.stringify(config.backend);
  let lastRefusal: string | undefined;
  let swaps: Promise<void> = Promise.resolve();
  return (snapshot) => {
    settings.filter = snapshot.peerConfig.filter;
    settings.maxReplicas = snapshot.peerConfig.maxReplicas;
    const merged = mergeBackendConfig(config.backend, snapshot.objectStorage);
    if (merged.kind === 'incompatible') {
      if (merged.reason !== lastRefusal) {
        logger.error({ reason: merged.reason }, 'ignoring the manager backend');
      }
      lastRefusal = merged.reason;
      return;
    }
    lastRefusal = undefined;
    const wanted = merged.kind === 'changed' ? merged.config : config.backend;
    const key = JSON.stringify(wanted);
    if (key === applied) return;
    applied = key;
    swaps = swaps.then(async () => {
      try {
        node.setBackend(await createBackend(wanted));
        logger.info(
          { backend: snapshot.objectStorage.name, endpoint: snapshot.objectStorage.endpoint },
          'backend changed by the manager',
        );
      } catch (error) {
        applied = '';
        logger.error({ err: error }, 'cannot build the backend the manager serves');
      }
    });
  };
}
