import type { PieceBitmap } from '../storage/piece-bitmap.ts';
import type { NodeRef } from './p2p-protocol.ts';

/** A holder of a task's pieces, as one download sees it. */
export interface PieceSource {
  node: NodeRef;
  /** The pieces it holds, as its tracker last said. */
  have: PieceBitmap;
  /** Whether the tracker's last answer listed it. */
  listed: boolean;
  inFlight: number;
  failures: number;
  /** Failed too often: not asked again during this download. */
  dropped: boolean;
}

export interface Assignment {
  readonly index: number;
  readonly source: PieceSource;
}

export interface PieceSchedulerOptions {
  readonly pieceCount: number;
  /** Pieces in flight overall. */
  readonly concurrency: number;
  /** Pieces in flight per source. */
  readonly perSource: number;
  /** Failures (bad data, error, timeout) after which a source is dropped; default 2. */
  readonly maxFailures?: number;
  /** In [0, 1); breaks ties. Default Math.random. */
  readonly random?: () => number;
}

/**
 * Decides which piece to fetch from which holder (docs/P2P.md, Reads step 4): rarest first and
 * random among equals, so that downloaders spread over the swarm instead of all asking for
 * piece 0; the least busy holder of a piece first, so that load spreads over holders. No I/O:
 * the download reports each outcome back.
 */
export class PieceScheduler {
  readonly #options: Required<PieceSchedulerOptions>;
  readonly #sources = new Map<string, PieceSource>();
  readonly #inFlight = new Set<number>();
  /** Sources that failed a piece: asked for it again only when no other holder is free. */
  readonly #failedBy = new Map<number, Set<string>>();

  constructor(options: PieceSchedulerOptions) {
    this.#options = { maxFailures: 2, random: Math.random, ...options };
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Every source seen during this download, dropped ones included. */
  sources(): PieceSource[] {
    return [...this.#sources.values()];
  }

  /**
   * Replaces the holder list with the tracker's latest answer. Sources keep their failure
   * counts and pieces in flight across answers; a dropped source stays dropped.
   */
  setHolders(holders: ReadonlyArray<{ readonly node: NodeRef; readonly have: PieceBitmap }>): void {
    for (const source of this.#sources.values()) source.listed = false;
    for (const { node, have } of holders) {
      const known = this.#sources.get(node.peerId);
      if (known) {
        // Same daemon (peer IDs are unique), perhaps at a new address after a restart.
        known.node = node;
        known.have = have;
        known.listed = true;
      } else {
        const source = { node, have, listed: true, inFlight: 0, failures: 0, dropped: false };
        this.#sources.set(node.peerId, source);
      }
    }
  }

  /** Whether some live source (listed, not dropped) holds piece `index`. */
  held(index: number): boolean {
    for (const source of this.#sources.values()) {
      if (source.listed && !source.dropped && source.have.has(index)) return true;
    }
    return false;
  }

  /**
   * Picks what to fetch now among the pieces `wanted` accepts (not present, digest known):
   * as many as the limits allow. Each assignment must be reported back exactly once
   * (landed, failed or released).
   */
  assign(wanted: (index: number) => boolean): Assignment[] {
    const out: Assignment[] = [];
    while (this.#inFlight.size < this.#options.concurrency) {
      const next = this.#pick(wanted);
      if (!next) break;
      this.#inFlight.add(next.index);
      next.source.inFlight++;
      out.push(next);
    }
    return out;
  }

  landed(assignment: Assignment): void {
    this.released(assignment);
    this.#failedBy.delete(assignment.index);
  }

  /** The source sent bad data, errored or stalled. Returns true when that dropped it. */
  failed(assignment: Assignment): boolean {
    const { index, source } = assignment;
    this.released(assignment);
    const failed = this.#failedBy.get(index) ?? new Set<string>();
    failed.add(source.node.peerId);
    this.#failedBy.set(index, failed);
    source.failures++;
    if (source.dropped || source.failures < this.#options.maxFailures) return false;
    source.dropped = true;
    return true;
  }

  /** The fetch ended without blaming the source (the download stopped). */
  released(assignment: Assignment): void {
    if (this.#inFlight.delete(assignment.index)) assignment.source.inFlight--;
  }

  #pick(wanted: (index: number) => boolean): Assignment | undefined {
    const live = [...this.#sources.values()].filter((s) => s.listed && !s.dropped);
    if (live.length === 0) return undefined;
    const { pieceCount, perSource, random } = this.#options;
    let best: number | undefined;
    let bestRarity = Number.POSITIVE_INFINITY;
    let ties = 0;
    for (let index = 0; index < pieceCount; index++) {
      if (this.#inFlight.has(index) || !wanted(index)) continue;
      let rarity = 0;
      let free = false;
      for (const source of live) {
        if (!source.have.has(index)) continue;
        rarity++;
        if (source.inFlight < perSource) free = true;
      }
      if (!free || rarity > bestRarity) continue;
      if (rarity < bestRarity) {
        bestRarity = rarity;
        best = index;
        ties = 1;
      } else if (random() * ++ties < 1) {
        // Reservoir sampling: each of the equally rare pieces is kept with probability 1/ties.
        best = index;
      }
    }
    if (best === undefined) return undefined;
    const source = this.#sourceFor(best, live);
    return source ? { index: best, source } : undefined;
  }

  /** The free holder of `index` that did not fail it, least busy first, random among equals. */
  #sourceFor(index: number, live: PieceSource[]): PieceSource | undefined {
    const failed = this.#failedBy.get(index);
    const { perSource, random } = this.#options;
    let best: PieceSource | undefined;
    let bestScore = Number.POSITIVE_INFINITY;
    let ties = 0;
    for (const source of live) {
      if (!source.have.has(index) || source.inFlight >= perSource) continue;
      const score = (failed?.has(source.node.peerId) ? perSource + 1 : 0) + source.inFlight;
      if (score > bestScore) continue;
      if (score < bestScore) {
        bestScore = score;
        best = source;
        ties = 1;
      } else if (random() * ++ties < 1) {
        best = source;
      }
    }
    return best;
  }
}
