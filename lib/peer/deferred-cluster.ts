import type { ClusterPort } from './cluster-port.ts';

/**
 * A ClusterPort to hand the peer node before the cluster exists (the cluster needs the node's
 * store, and its identity needs the piece server's port). Until `attach`, the daemon counts as
 * alone (no seed peers); calls that must reach the cluster wait for it.
 */
export class DeferredClusterPort implements ClusterPort {
  #impl: ClusterPort | undefined;
  #attached!: (impl: ClusterPort) => void;
  readonly #ready = new Promise<ClusterPort>((resolve) => {
    this.#attached = resolve;
  });

  attach(impl: ClusterPort): void {
    this.#impl = impl;
    this.#attached(impl);
  }

  hasSeedPeers(): boolean {
    return this.#impl?.hasSeedPeers() ?? false;
  }

  async pendingVersion(...args: Parameters<ClusterPort['pendingVersion']>) {
    return (await this.#ready).pendingVersion(...args);
  }

  owners(taskId: string) {
    return this.#impl?.owners(taskId) ?? [];
  }

  async download(...args: Parameters<ClusterPort['download']>) {
    return (await this.#ready).download(...args);
  }

  async publish(...args: Parameters<ClusterPort['publish']>) {
    return (await this.#ready).publish(...args);
  }

  async replicate(...args: Parameters<ClusterPort['replicate']>) {
    return (await this.#ready).replicate(...args);
  }
}
