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
  /**
   * Peer IDs of the seed peers (the task's owners). Their uplink carries the first copy of
   * every piece into the swarm, so while other downloaders are known it is kept for that: a
   * piece only seed peers hold ("seed-only") is fetched from them by one downloader (chosen by
   * rendezvous hashing among the known downloaders, see designee()), `firstCopies` at a time, and
   * by the others only once it stayed seed-only for the grace time; a piece some peer holds is
   * fetched from peers, and from seed peers only in the end game (a seed peer holds the whole
   * task and no wanted piece is seed-only). Before other downloaders are known, a seed peer
   * that does not hold the whole task yet (it is still reading the backend) serves only
   * seed-only pieces, `firstCopies` at a time. Default none: every holder is alike.
   */
  readonly seedPeers?: ReadonlySet<string>;
  /** This downloader's peer ID (see designee()). */
  readonly self?: string;
  /**
   * How long a seed-only piece another downloader should take is left to it, on top of the
   * time our own first copies take times (2 + the seed-only pieces queued for that
   * downloader), so that slower links and longer queues wait longer. Default 1000 ms.
   */
  readonly seedGraceMs?: number;
  /** First copies (seed-only pieces) in flight from seed peers at once. Default 1. */
  readonly firstCopies?: number;
  /** Milliseconds clock. Default Date.now. */
  readonly now?: () => number;
}

/** What one assign() round knows of the swarm (see #plan). */
interface Plan {
  readonly live: PieceSource[];
  /** Wanted pieces only seed peers hold. */
  readonly seedOnly: ReadonlySet<number>;
  /** Seed peers serve any piece: the end game, or not rationed. */
  readonly seedsFree: boolean;
  /** Whether this downloader may fetch seed-only piece `index` from a seed peer now. */
  ready(index: number): boolean;
}

/**
 * Decides which piece to fetch from which holder (docs/P2P.md, Reads step 4): rarest first and
 * random among equals, so that downloaders spread over the swarm instead of all asking for
 * piece 0; the least busy holder of a piece first, so that load spreads over holders. No I/O:
 * the download reports each outcome back.
 */
export class PieceScheduler {
  readonly #options: Required<Omit<PieceSchedulerOptions, 'self'>> & { self?: string };
  readonly #sources = new Map<string, PieceSource>();
  readonly #inFlight = new Set<number>();
  /** Sources that failed a piece: asked for it again only when no other holder is free. */
  readonly #failedBy = new Map<number, Set<string>>();
  /** Seed-only pieces → when this download first saw them so. */
  readonly #seedOnlySince = new Map<number, number>();
  /** First copies in flight → when they were assigned. */
  readonly #firstCopies = new Map<number, number>();
  /** Smoothed duration of our first copies (ms); undefined until one landed. */
  #firstCopyMs: number | undefined;

  constructor(options: PieceSchedulerOptions) {
    this.#options = {
      maxFailures: 2,
      random: Math.random,
      seedPeers: new Set<string>(),
      seedGraceMs: 1_000,
      firstCopies: 1,
      now: Date.now,
      ...options,
    };
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
    const plan = this.#plan(wanted);
    while (this.#inFlight.size < this.#options.concurrency) {
      const next = this.#pick(wanted, plan);
      if (!next) break;
      this.#inFlight.add(next.index);
      next.source.inFlight++;
      if (!plan.seedsFree && plan.seedOnly.has(next.index)) {
        this.#firstCopies.set(next.index, this.#options.now());
      }
      out.push(next);
    }
    return out;
  }

  landed(assignment: Assignment): void {
    const since = this.#firstCopies.get(assignment.index);
    if (since !== undefined) {
      const ms = this.#options.now() - since;
      this.#firstCopyMs = this.#firstCopyMs === undefined ? ms : 0.7 * this.#firstCopyMs + 0.3 * ms;
    }
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
    this.#firstCopies.delete(assignment.index);
    if (this.#inFlight.delete(assignment.index)) assignment.source.inFlight--;
  }

  #isSeed(source: PieceSource): boolean {
    return this.#options.seedPeers.has(source.node.peerId);
  }

  /**
   * The round's view: which wanted pieces are seed-only (and since when), whether seed peers
   * are rationed, and who takes each seed-only piece. The downloaders are this one and every
   * listed peer that is not a seed peer and lacks some piece (one that has all fetches
   * nothing); see designee().
   */
  #plan(wanted: (index: number) => boolean): Plan {
    const live = [...this.#sources.values()].filter((s) => s.listed && !s.dropped);
    const { self, seedPeers, pieceCount, seedGraceMs, now } = this.#options;
    const others = live.filter((s) => !this.#isSeed(s) && !s.have.full).map((s) => s.node.peerId);
    const downloaders = self === undefined ? [] : [self, ...others];
    const rationed = seedPeers.size > 0 && downloaders.length > 1;
    const seedOnly = new Set<number>();
    const at = now();
    for (let index = 0; index < pieceCount; index++) {
      let seedHas = false;
      let peerHas = false;
      for (const source of live) {
        if (!source.have.has(index)) continue;
        if (this.#isSeed(source)) seedHas = true;
        else peerHas = true;
      }
      if (seedHas && !peerHas) {
        if (!this.#seedOnlySince.has(index)) this.#seedOnlySince.set(index, at);
        if (wanted(index)) seedOnly.add(index);
      } else {
        this.#seedOnlySince.delete(index);
      }
    }
    const seedComplete = live.some((s) => this.#isSeed(s) && s.have.full);
    // A first copy takes about what ours take (the one in flight counts once it runs longer),
    // and a designee takes its pieces `firstCopies` at a time: its queue adds to the grace.
    let copyMs = this.#firstCopyMs ?? 0;
    for (const since of this.#firstCopies.values()) copyMs = Math.max(copyMs, at - since);
    const chosen = new Map<number, string | undefined>();
    const queued = new Map<string | undefined, number>();
    if (rationed) {
      for (const index of seedOnly) {
        const peerId = designee(downloaders, index);
        chosen.set(index, peerId);
        queued.set(peerId, (queued.get(peerId) ?? 0) + 1);
      }
    }
    const grace = (peerId: string | undefined) =>
      seedGraceMs + (2 + (queued.get(peerId) ?? 0) / this.#options.firstCopies) * copyMs;
    return {
      live,
      seedOnly,
      // A seed peer still reading the backend keeps its uplink for first copies even before
      // other downloaders are known (they are listed only once they hold a piece).
      seedsFree: seedPeers.size === 0 || (seedComplete && (!rationed || seedOnly.size === 0)),
      ready: (index) => {
        if (!rationed) return true;
        const peerId = chosen.get(index) ?? designee(downloaders, index);
        if (peerId === self) return true;
        return at - (this.#seedOnlySince.get(index) ?? at) >= grace(peerId);
      },
    };
  }

  /** Whether `source` may serve `index` in this round (limits aside). */
  #usable(source: PieceSource, index: number, plan: Plan): boolean {
    if (!source.have.has(index) || source.inFlight >= this.#options.perSource) return false;
    if (plan.seedsFree || !this.#isSeed(source)) return true;
    // A seed peer serves first copies only, `firstCopies` at a time per download.
    return (
      plan.seedOnly.has(index) &&
      plan.ready(index) &&
      this.#firstCopies.size < this.#options.firstCopies
    );
  }

  #pick(wanted: (index: number) => boolean, plan: Plan): Assignment | undefined {
    const { live } = plan;
    if (live.length === 0) return undefined;
    const { pieceCount, random } = this.#options;
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
        if (!free && this.#usable(source, index, plan)) free = true;
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
    const source = this.#sourceFor(best, plan);
    return source ? { index: best, source } : undefined;
  }

  /** The usable holder of `index` that did not fail it, least busy first, random among equals. */
  #sourceFor(index: number, plan: Plan): PieceSource | undefined {
    const failed = this.#failedBy.get(index);
    const { perSource, random } = this.#options;
    let best: PieceSource | undefined;
    let bestScore = Number.POSITIVE_INFINITY;
    let ties = 0;
    for (const source of plan.live) {
      if (!this.#usable(source, index, plan)) continue;
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

/**
 * The downloader that takes the first copy of piece `index` from the seed peers: the highest
 * score of hash(peerId, index) (rendezvous hashing). Every downloader that knows the same
 * downloaders picks the same one, and one more downloader only takes over the pieces it wins,
 * so views that differ by a peer that just joined disagree on few pieces.
 */
export function designee(downloaders: readonly string[], index: number): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const peerId of downloaders) {
    const score = mix(fnv1a(peerId) ^ Math.imul(index + 1, 0x9e3779b1));
    if (score > bestScore || (score === bestScore && best !== undefined && peerId < best)) {
      bestScore = score;
      best = peerId;
    }
  }
  return best;
}

/** 32-bit FNV-1a of a string's UTF-16 code units. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** MurmurHash3's 32-bit finalizer: every input bit affects every output bit. */
function mix(value: number): number {
  let x = value >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}
