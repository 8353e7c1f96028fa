import { tryParseDigest } from '../core/digest.ts';
import { ConflictError } from '../core/errors.ts';
import type { Logger } from '../storage/deps.ts';
import type { PartialTaskOptions } from '../storage/partial-task.ts';
import { PieceBitmap } from '../storage/piece-bitmap.ts';
import type { NodeRef, SyncResponse, TaskLayout } from './p2p-protocol.ts';
import { PieceScheduler } from './swarm-scheduler.ts';

export interface SwarmViewOptions {
  readonly self: NodeRef;
  readonly concurrency: number;
  readonly perSource: number;
  readonly logger: Logger;
  /** Peer IDs of the task's owners (seed peers): see PieceSchedulerOptions.seedPeers. */
  readonly seedPeers?: ReadonlySet<string>;
}

/**
 * What one download knows of its task's swarm, from its trackers' answers: the layout, the
 * piece digests as they fill in, and the holders (in the scheduler).
 */
export class SwarmView {
  readonly layout: TaskLayout;
  readonly scheduler: PieceScheduler;
  readonly #options: SwarmViewOptions;
  readonly #digests: string[];

  constructor(layout: TaskLayout, options: SwarmViewOptions) {
    this.layout = layout;
    this.#options = options;
    this.#digests = [...layout.pieceDigests];
    this.scheduler = new PieceScheduler({
      pieceCount: layout.pieceCount,
      concurrency: options.concurrency,
      perSource: options.perSource,
      self: options.self.peerId,
      seedPeers: options.seedPeers,
    });
  }

  get taskId(): string {
    return this.layout.taskId;
  }

  /** sha256 hex of piece `index`, or '' while unknown. */
  digest(index: number): string {
    return this.#digests[index] ?? '';
  }

  /** Fills in digests known from elsewhere (the store's meta of a resumed partial task). */
  adopt(digests: readonly string[]): void {
    this.#digests.forEach((digest, i) => {
      this.#digests[i] = digest || digests[i] || '';
    });
  }

  /**
   * Takes in a tracker's answer: digests that filled in, the current holders. Returns whether
   * a digest was learnt. ConflictError when it contradicts what we know (another layout).
   */
  apply(answer: SyncResponse): boolean {
    const told = answer.layout;
    const { layout } = this;
    if (
      told.taskId !== layout.taskId ||
      told.contentLength !== layout.contentLength ||
      told.pieceSize !== layout.pieceSize ||
      told.pieceDigests.length !== layout.pieceCount
    ) {
      throw new ConflictError(`the tracker changed the layout of task ${layout.taskId}`);
    }
    let learned = false;
    told.pieceDigests.forEach((digest, i) => {
      if (digest === '' || digest === this.#digests[i]) return;
      if (this.#digests[i]) {
        throw new ConflictError(`the tracker changed piece ${i} of task ${layout.taskId}`);
      }
      this.#digests[i] = digest;
      learned = true;
    });
    this.scheduler.setHolders(this.#holders(answer));
    return learned;
  }

  /** Some missing piece cannot be fetched: its digest is unknown or no live holder has it. */
  blocked(missing: (index: number) => boolean): boolean {
    return this.#digests.some(
      (digest, i) => missing(i) && (digest === '' || !this.scheduler.held(i)),
    );
  }

  #holders(answer: SyncResponse): Array<{ node: NodeRef; have: PieceBitmap }> {
    const out = [];
    for (const { node, have } of answer.holders) {
      if (node.peerId === this.#options.self.peerId) continue;
      try {
        out.push({ node, have: PieceBitmap.fromBase64(this.layout.pieceCount, have) });
      } catch (error) {
        const fields = { taskId: this.taskId, peerId: node.peerId, err: error };
        this.#options.logger.debug(fields, 'holder with a malformed piece bitmap ignored');
      }
    }
    return out;
  }
}

/** Base64 bitmap over `count` pieces of those `has` accepts. */
export function haveBitmap(count: number, has: (index: number) => boolean): string {
  const bitmap = new PieceBitmap(count);
  for (let i = 0; i < count; i++) if (has(i)) bitmap.add(i);
  return bitmap.toBase64();
}

/** The partial task's options from a tracker's layout (bucket/key: the request's if absent). */
export function partialOptions(
  layout: TaskLayout,
  fallback: { readonly bucket: string; readonly key: string },
): PartialTaskOptions {
  const { metadata } = layout;
  const digest = metadata.digest?.toLowerCase();
  return {
    contentLength: layout.contentLength,
    pieceSize: layout.pieceSize,
    pieceDigests: layout.pieceDigests,
    digest: digest && tryParseDigest(digest)?.algorithm === 'md5' ? digest : undefined,
    contentType: metadata.contentType,
    contentDisposition: metadata.contentDisposition,
    contentEncoding: metadata.contentEncoding,
    contentLanguage: metadata.contentLanguage,
    etag: metadata.etag,
    lastModified: metadata.lastModified,
    bucket: layout.bucket || fallback.bucket,
    key: layout.key || fallback.key,
  };
}
