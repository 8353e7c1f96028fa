import { ValidationError } from '../core/errors.ts';
import { computePieceCount } from '../core/piece-size.ts';
import type { Timers } from '../storage/deps.ts';
import { PieceBitmap } from '../storage/piece-bitmap.ts';
import type { PieceStore } from '../storage/piece-store.ts';
import type { TaskMeta } from '../storage/task-meta.ts';
import type { Holder, NodeRef, SyncResponse, TaskLayout, VersionMetadata } from './p2p-protocol.ts';
import { layoutOfTask } from './version-metadata.ts';

export type TrackerStore = Pick<PieceStore, 'stat' | 'hasPiece'>;

/** Where a task's version comes from, as its source fetch (or a request) told. */
export interface TaskOrigin {
  readonly bucket: string;
  readonly key: string;
  readonly metadata?: VersionMetadata;
}

interface HolderEntry {
  node: NodeRef;
  have: PieceBitmap;
  /** `have` as sent on the wire, kept so that answers never re-encode it. */
  encoded: string;
  seenAt: number;
}

/** A waiting long poll: settled with nothing (answer now) or an error (e.g. GoneError). */
type Waiter = (error?: Error) => void;

/**
 * What every answer of one revision shares, built once however many long polls wake on it;
 * each answer then only leaves its caller out.
 */
interface Snapshot {
  readonly revision: number;
  /** The store's meta it was built from: a new object (or none) means a rebuild. */
  readonly meta: TaskMeta | undefined;
  readonly layout: TaskLayout;
  readonly holders: Holder[];
  readonly self: Holder | undefined;
  /** The bitmaps of `holders` and `self`, for coverage. */
  readonly bitmaps: PieceBitmap[];
  covered?: boolean;
}

export interface TrackedTaskDeps {
  readonly store: TrackerStore;
  readonly self: NodeRef;
  readonly timers: Timers;
  /** Tracker-wide counter: revisions grow across forget/re-create of a task. */
  readonly nextRevision: () => number;
}

/**
 * What a tracker knows of one task: its layout (the store's, merged with what complete holders
 * told), the holders and their bitmaps, the revision, and the long polls waiting on it.
 */
export class TrackedTask {
  revision: number;
  touchedAt: number;
  /** `bucket/key` entries this task is indexed under (see Tracker.versionsOfKey). */
  readonly keys = new Set<string>();
  origin: TaskOrigin | undefined;
  readonly #deps: TrackedTaskDeps;
  readonly #holders = new Map<string, HolderEntry>();
  readonly #waiters = new Set<Waiter>();
  /** Digests adopted from complete holders ('' where none told yet). */
  #adopted: TaskLayout | undefined;
  /** The last layout answered, for when the store no longer has the task. */
  #last: TaskLayout | undefined;
  #snapshot: Snapshot | undefined;

  constructor(
    readonly taskId: string,
    deps: TrackedTaskDeps,
    now: number,
  ) {
    this.#deps = deps;
    this.revision = deps.nextRevision();
    this.touchedAt = now;
  }

  get holderCount(): number {
    return this.#holders.size;
  }

  get waiterCount(): number {
    return this.#waiters.size;
  }

  /** A change others may care about: new revision, waiting long polls answer. */
  bump(): void {
    this.revision = this.#deps.nextRevision();
    this.#snapshot = undefined;
    this.settleWaiters();
  }

  /** Answers every waiting long poll now (with `error`: fails them). */
  settleWaiters(error?: Error): void {
    for (const waiter of [...this.#waiters]) waiter(error);
  }

  /**
   * Learns the digests of a complete holder's layout. ValidationError when the layout is not
   * self-consistent or disagrees in shape with what the tracker knows.
   */
  adopt(layout: TaskLayout): void {
    if (layout.taskId !== this.taskId) throw new ValidationError('layout.taskId: not the task');
    if (computePieceCount(layout.contentLength, layout.pieceSize) !== layout.pieceCount) {
      throw new ValidationError('layout.pieceCount: does not match contentLength / pieceSize');
    }
    if (layout.pieceDigests.length !== layout.pieceCount) {
      throw new ValidationError('layout.pieceDigests: need one per piece');
    }
    const known = this.#adopted ?? this.currentLayout();
    if (known && !sameShape(known, layout)) {
      throw new ValidationError('layout: disagrees with the layout the tracker knows');
    }
    const adopted = this.#adopted;
    if (!adopted) {
      this.#adopted = { ...layout, pieceDigests: [...layout.pieceDigests] };
      this.bump();
      return;
    }
    let learnt = false;
    const digests = adopted.pieceDigests.map((digest, i) => {
      if (digest !== '') return digest;
      const told = layout.pieceDigests[i] ?? '';
      if (told !== '') learnt = true;
      return told;
    });
    if (learnt) {
      this.#adopted = { ...adopted, pieceDigests: digests };
      this.bump();
    }
  }

  /**
   * The layout to answer: the store's (freshest digests, re-read on every call), completed by
   * adopted digests; without a stored task, the adopted layout or the last one answered.
   */
  currentLayout(): TaskLayout | undefined {
    const meta = this.#deps.store.stat(this.taskId);
    const adopted = this.#adopted;
    if (!meta) return adopted ?? this.#last;
    const layout = layoutOfTask(meta, {
      bucket: adopted?.bucket || this.origin?.bucket,
      key: adopted?.key || this.origin?.key,
      metadata: adopted?.metadata ?? this.origin?.metadata,
    });
    if (adopted && sameShape(adopted, layout)) {
      layout.pieceDigests = layout.pieceDigests.map((d, i) => d || adopted.pieceDigests[i] || '');
    }
    this.#last = layout;
    return layout;
  }

  /**
   * Registers or refreshes `node` as a holder of the pieces in `have` (base64 bitmap over the
   * layout's pieces; '' = none, or all of them for a caller that sent the whole layout).
   * A holder with no piece is remembered (key changes are forwarded to it) but not listed.
   */
  announce(node: NodeRef, have: string, complete: boolean, layout: TaskLayout, now: number): void {
    if (node.peerId === this.#deps.self.peerId) return; // our pieces come from the store
    const bitmap = decodeHave(layout.pieceCount, have, complete);
    const encoded = bitmap.toBase64();
    const entry = this.#holders.get(node.peerId);
    if (!entry) {
      this.#holders.set(node.peerId, { node, have: bitmap, encoded, seenAt: now });
      if (bitmap.count > 0) this.bump();
      return;
    }
    const changed = entry.encoded !== encoded || entry.node.pieces !== node.pieces;
    const visible = bitmap.count > 0 || entry.have.count > 0;
    Object.assign(entry, { node, have: bitmap, encoded, seenAt: now });
    if (changed && visible) this.bump();
  }

  /** Forgets holders not heard from since `cutoff`. */
  pruneHolders(cutoff: number): void {
    let visible = false;
    for (const [peerId, entry] of this.#holders) {
      if (entry.seenAt > cutoff) continue;
      this.#holders.delete(peerId);
      if (entry.have.count > 0) visible = true;
    }
    if (visible) this.bump();
  }

  holderNodes(): NodeRef[] {
    return [...this.#holders.values()].map((entry) => entry.node);
  }

  /** Whether this peer's store holds any piece of the task. */
  holdsPieces(): boolean {
    const meta = this.#deps.store.stat(this.taskId);
    return meta !== undefined && this.#selfBitmap(meta).count > 0;
  }

  /** Whether every piece is held by someone known (a holder or this peer). */
  covered(): boolean {
    const snapshot = this.#snap();
    if (!snapshot) return false;
    snapshot.covered ??= isCovered(snapshot);
    return snapshot.covered;
  }

  /** The answer for `caller`; `sourceError` is shown only while some piece has no holder. */
  answer(caller: string, sourceError: string | undefined): SyncResponse {
    const snapshot = this.#snap();
    if (!snapshot) throw new Error(`no layout for task ${this.taskId}`);
    const holders = snapshot.holders.filter((holder) => holder.node.peerId !== caller);
    if (snapshot.self && caller !== this.#deps.self.peerId) holders.push(snapshot.self);
    const response: SyncResponse = { revision: this.revision, layout: snapshot.layout, holders };
    if (sourceError !== undefined && !this.covered()) response.sourceError = sourceError;
    return response;
  }

  /**
   * Waits (one entry in this task's waiter list, one timer) until the next change, `ms`
   * elapsed or `signal` aborted; rejects when the task is dropped meanwhile.
   */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    const { timers } = this.#deps;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = (error) => {
        this.#waiters.delete(waiter);
        timers.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const onAbort = () => waiter();
      const timer = timers.setTimeout(() => waiter(), ms);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  #snap(): Snapshot | undefined {
    const meta = this.#deps.store.stat(this.taskId);
    const cached = this.#snapshot;
    if (cached && cached.revision === this.revision && cached.meta === meta) return cached;
    const layout = this.currentLayout();
    if (!layout) return undefined;
    const holders: Holder[] = [];
    const bitmaps: PieceBitmap[] = [];
    for (const entry of this.#holders.values()) {
      if (entry.have.size !== layout.pieceCount) continue;
      // Downloaders that hold nothing yet are listed too: peers that start together learn of
      // each other at once and split the seed-only pieces between them (swarm-scheduler.ts)
      // instead of all fetching the first pieces from the seed peer. They cover nothing.
      holders.push({ node: entry.node, have: entry.encoded });
      if (entry.have.count > 0) bitmaps.push(entry.have);
    }
    const own = meta && meta.pieceCount === layout.pieceCount ? this.#selfBitmap(meta) : undefined;
    let self: Holder | undefined;
    if (own && own.count > 0) {
      self = { node: this.#deps.self, have: own.toBase64() };
      bitmaps.push(own);
    }
    this.#snapshot = { revision: this.revision, meta, layout, holders, self, bitmaps };
    return this.#snapshot;
  }

  #selfBitmap(meta: TaskMeta): PieceBitmap {
    const bitmap = new PieceBitmap(meta.pieceCount);
    for (let i = 0; i < meta.pieceCount; i++) {
      if (meta.complete || this.#deps.store.hasPiece(this.taskId, i)) bitmap.add(i);
    }
    return bitmap;
  }
}

function sameShape(a: TaskLayout, b: TaskLayout): boolean {
  return (
    a.contentLength === b.contentLength &&
    a.pieceSize === b.pieceSize &&
    a.pieceCount === b.pieceCount
  );
}

function decodeHave(pieceCount: number, have: string, complete: boolean): PieceBitmap {
  if (have === '') {
    const bitmap = new PieceBitmap(pieceCount);
    if (complete) for (let i = 0; i < pieceCount; i++) bitmap.add(i);
    return bitmap;
  }
  try {
    return PieceBitmap.fromBase64(pieceCount, have);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ValidationError(`have: ${reason} (the task has ${pieceCount} pieces)`);
  }
}

function isCovered({ layout, bitmaps }: Snapshot): boolean {
  const { pieceCount } = layout;
  if (bitmaps.some((bitmap) => bitmap.full)) return true;
  for (let i = 0; i < pieceCount; i++) {
    if (!bitmaps.some((bitmap) => bitmap.has(i))) return false;
  }
  return true;
}
