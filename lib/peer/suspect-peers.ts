/**
 * Seed peers that failed a cluster request lately (a timeout, a refused or reset connection).
 * Callers stop waiting on them for `holdMs`: a key change still goes to them, but a PUT's
 * acknowledgement no longer waits for their timeout, and lookups try healthy peers first. A
 * success clears the suspicion at once; so does the hold running out. Without this, one hung seed
 * peer (a black-holed address stays in a static membership list) added the request timeout to
 * every PUT and DELETE.
 */
export class SuspectPeers {
  readonly #until = new Map<string, number>();
  readonly #holdMs: number;
  readonly #now: () => number;

  constructor(options: { holdMs?: number; now?: () => number } = {}) {
    this.#holdMs = options.holdMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  isSuspect(peerId: string): boolean {
    const until = this.#until.get(peerId);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#until.delete(peerId);
    return false;
  }

  failed(peerId: string): void {
    this.#until.set(peerId, this.#now() + this.#holdMs);
  }

  succeeded(peerId: string): void {
    this.#until.delete(peerId);
  }

  /** `peers` with the suspect ones moved to the end, each group in its order. */
  healthyFirst<T extends { readonly id: string }>(peers: readonly T[]): T[] {
    const healthy = peers.filter((peer) => !this.isSuspect(peer.id));
    return [...healthy, ...peers.filter((peer) => this.isSuspect(peer.id))];
  }

  /** Runs `request` for `peerId`, recording whether it succeeded. */
  async track<T>(peerId: string, request: () => Promise<T>): Promise<T> {
    try {
      const result = await request();
      this.succeeded(peerId);
      return result;
    } catch (error) {
      this.failed(peerId);
      throw error;
    }
  }
}
