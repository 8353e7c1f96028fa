import { createHash } from 'node:crypto';
import { computePieceCount } from '../../../lib/core/piece-size.ts';
import type { NodeRef, TaskLayout, VersionMetadata } from '../../../lib/peer/p2p-protocol.ts';
import type {
  SourceFetch,
  SourceFetcher,
  SourceFetchRequest,
} from '../../../lib/peer/source-fetch.ts';
import { Tracker, type TrackerDeps } from '../../../lib/peer/tracker.ts';
import { noopLogger } from '../../../lib/storage/deps.ts';
import { PieceBitmap } from '../../../lib/storage/piece-bitmap.ts';
import type { TaskMeta } from '../../../lib/storage/task-meta.ts';

export const PIECE = 4;
export const SELF: NodeRef = { peerId: 'seed-1', pieces: 'http://10.0.0.1:65002' };

export const node = (n: number): NodeRef => ({
  peerId: `peer-${n}`,
  pieces: `http://10.0.1.${n}:65002`,
});

export const taskIdOf = (name: string): string =>
  createHash('sha256').update(`task-${name}`).digest('hex');

export const digestOf = (index: number): string =>
  createHash('sha256').update(`piece-${index}`).digest('hex');

export const metadataOf = (contentLength: number): VersionMetadata => ({
  contentLength,
  etag: '"0123abcd"',
  lastModified: '2024-05-01T00:00:00.000Z',
});

/** A complete layout of `contentLength` bytes in 4-byte pieces. */
export function layoutOf(taskId: string, contentLength: number, key = 'k'): TaskLayout {
  const pieceCount = computePieceCount(contentLength, PIECE);
  return {
    taskId,
    contentLength,
    pieceSize: PIECE,
    pieceCount,
    pieceDigests: Array.from({ length: pieceCount }, (_, i) => digestOf(i)),
    metadata: metadataOf(contentLength),
    bucket: 'b',
    key,
  };
}

/** Base64 bitmap of `indexes` over `size` pieces. */
export function bits(size: number, indexes: number[]): string {
  const bitmap = new PieceBitmap(size);
  for (const i of indexes) bitmap.add(i);
  return bitmap.toBase64();
}

/**
 * The store as the tracker sees it: partial tasks whose digests fill in as pieces land (each
 * change replaces the meta object, like the real store).
 */
export class FakeStore {
  readonly #tasks = new Map<string, { meta: TaskMeta; present: Set<number> }>();

  stat(taskId: string): TaskMeta | undefined {
    return this.#tasks.get(taskId)?.meta;
  }

  hasPiece(taskId: string, index: number): boolean {
    return this.#tasks.get(taskId)?.present.has(index) ?? false;
  }

  putPartial(taskId: string, contentLength: number, key = 'k'): void {
    const pieceCount = computePieceCount(contentLength, PIECE);
    const meta: TaskMeta = {
      version: 1,
      taskId,
      contentLength,
      pieceSize: PIECE,
      pieceCount,
      pieceDigests: Array.from({ length: pieceCount }, () => ''),
      complete: pieceCount === 0,
      createdAt: '2024-05-01T00:00:00.000Z',
      bucket: 'b',
      key,
    };
    this.#tasks.set(taskId, { meta, present: new Set() });
  }

  putComplete(taskId: string, contentLength: number, key = 'k'): void {
    this.putPartial(taskId, contentLength, key);
    const task = this.#tasks.get(taskId);
    if (!task) return;
    for (let i = 0; i < task.meta.pieceCount; i++) this.addPiece(taskId, i);
  }

  addPiece(taskId: string, index: number): void {
    const task = this.#tasks.get(taskId);
    if (!task) throw new Error('no such task');
    task.present.add(index);
    const pieceDigests = task.meta.pieceDigests.map((d, i) => (i === index ? digestOf(i) : d));
    const complete = task.present.size === task.meta.pieceCount;
    task.meta = { ...task.meta, pieceDigests, complete };
  }

  remove(taskId: string): void {
    this.#tasks.delete(taskId);
  }
}

export interface FakeFetch extends SourceFetch {
  finish(): void;
  fail(message: string): void;
}

/**
 * A SourceFetcher that creates the partial task in the store on fetch() (and removes it when
 * the fetch fails, like the real one). Records fetch() calls; `next` makes the next one reject.
 */
export class FakeSources implements Pick<SourceFetcher, 'fetch' | 'inFlight'> {
  calls: SourceFetchRequest[] = [];
  next: Error | undefined;
  readonly fetches = new Map<string, FakeFetch>();

  constructor(
    readonly store: FakeStore,
    readonly contentLength = 10,
  ) {}

  async fetch(request: SourceFetchRequest): Promise<SourceFetch> {
    this.calls.push(request);
    await Promise.resolve(); // the backend's headers take a moment
    const error = this.next;
    this.next = undefined;
    if (error) throw error;
    this.store.putPartial(request.taskId, this.contentLength, request.key);
    let failure: string | undefined;
    let settle!: { resolve: () => void; reject: (error: Error) => void };
    const done = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const fetch: FakeFetch = {
      taskId: request.taskId,
      contentLength: this.contentLength,
      pieceSize: PIECE,
      bucket: request.bucket,
      key: request.key,
      metadata: metadataOf(this.contentLength),
      done,
      failure: () => failure,
      finish: () => {
        this.fetches.delete(request.taskId);
        settle.resolve();
      },
      fail: (message) => {
        failure = message;
        this.fetches.delete(request.taskId);
        this.store.remove(request.taskId); // like SourceFetcher: no half task lingers
        settle.reject(new Error(message));
      },
    };
    this.fetches.set(request.taskId, fetch);
    return fetch;
  }

  inFlight(taskId: string): SourceFetch | undefined {
    return this.fetches.get(taskId);
  }
}

export function newTracker(overrides: Partial<TrackerDeps> = {}) {
  const store = new FakeStore();
  const sources = new FakeSources(store);
  const tracker = new Tracker({ self: SELF, store, sources, logger: noopLogger, ...overrides });
  return { store, sources, tracker };
}

export const source = (key = 'k') => ({ bucket: 'b', key, version: 'md5:00' });

/** A sync body with the schema's defaults applied. */
export function body(
  n: number,
  extra: Partial<{
    have: string;
    layout: TaskLayout;
    source: ReturnType<typeof source>;
    since: number;
    waitMs: number;
  }> = {},
) {
  return { node: node(n), have: '', waitMs: 0, ...extra };
}
