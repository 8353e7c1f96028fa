import { pipeline, type Readable, Transform } from 'node:stream';
import { type Context, Hono } from 'hono';
import type { Registry } from 'prom-client';
import { createErrorHandler, type ErrorLogger, notFoundHandler } from '../api/error-handler.ts';
import { streamResponse } from '../api/stream-response.ts';
import { NotFoundError, ValidationError } from '../core/errors.ts';
import { computePieceCount } from '../core/piece-size.ts';
import {
  formatContentRange,
  parseRangeHeader,
  type ResolvedRange,
  resolveRange,
} from '../core/range.ts';
import { isTaskId } from '../storage/layout.ts';
import type { PieceStore } from '../storage/piece-store.ts';
import type { TaskMeta } from '../storage/task-meta.ts';

/** sha256 hex of the piece a response holds, when the range is exactly one piece. */
export const PIECE_DIGEST_HEADER = 'X-Dfstore-Piece-Digest';
/** Index of that piece. */
export const PIECE_INDEX_HEADER = 'X-Dfstore-Piece-Index';

export interface PieceServerDeps {
  readonly store: Pick<PieceStore, 'stat' | 'createReadStream'>;
  readonly logger?: ErrorLogger;
  /** Serves `GET /metrics` from this registry (when the daemon has no separate metrics port). */
  readonly metrics?: Registry;
  /**
   * Test-only fault (`DFSTORE_FAULT_CORRUPT_PIECES=1`): flips the first byte of every download
   * body, so downloaders must catch it by the piece digest.
   */
  readonly corruptPieces?: boolean;
}

/**
 * The piece server other peers download from (PROTOCOL.md §5; Dragonfly's upload server):
 * `GET /download/{taskId[0:3]}/{taskId}?peerId=…` with one `Range: bytes=s-e` answers exactly
 * those bytes (206 + Content-Range); without a Range, the whole task (200).
 * - 422: the task ID is not 64 lower-case hex, or the prefix is not its first 3 characters;
 * - 404: the task is unknown, or a piece of the range is not cached (a partial task);
 * - 416: a malformed, multiple or unsatisfiable range.
 * `peerId` names the downloader for logs; unlike upstream it is optional.
 */
export function createPieceServerApp(deps: PieceServerDeps): Hono {
  const app = new Hono({ strict: true });
  app.onError(createErrorHandler(deps.logger));
  app.notFound(notFoundHandler);

  app.get('/healthy', (c) => c.json('OK'));
  app.get('/download/:prefix/:taskId', (c) => download(c, deps));
  if (deps.metrics) addMetricsRoute(app, deps.metrics);
  return app;
}

/** `GET /metrics` in the Prometheus text format. */
export function addMetricsRoute(app: Hono, registry: Registry): Hono {
  return app.get('/metrics', async (c) =>
    c.body(await registry.metrics(), 200, { 'Content-Type': registry.contentType }),
  );
}

async function download(c: Context, deps: PieceServerDeps): Promise<Response> {
  const { store } = deps;
  const taskId = c.req.param('taskId') ?? '';
  if (!isTaskId(taskId)) throw new ValidationError('taskId must be 64 lower-case hex characters');
  if (c.req.param('prefix') !== taskId.slice(0, 3)) {
    throw new ValidationError('prefix must be the first 3 characters of taskId');
  }
  const peerId = c.req.query('peerId');
  if (peerId !== undefined && peerId.length > 256) throw new ValidationError('peerId is too long');

  const meta = store.stat(taskId);
  if (!meta) throw new NotFoundError('task not found');
  const header = c.req.header('range');
  // Parse before the empty-task shortcut: a malformed Range is always 416.
  const range =
    header === undefined ? undefined : resolveRange(parseRangeHeader(header), meta.contentLength);

  const stored = await store.createReadStream(taskId, range ?? {});
  const body = deps.corruptPieces ? flipFirstByte(stored) : stored;
  c.header('Content-Type', 'application/octet-stream');
  c.header('Content-Length', String(range?.length ?? meta.contentLength));
  c.header('Accept-Ranges', 'bytes');
  const piece = singlePiece(meta, range);
  if (piece !== undefined) {
    c.header(PIECE_INDEX_HEADER, String(piece));
    // '' while the owner is still fetching the piece from the backend: no digest to vouch for.
    const digest = meta.pieceDigests[piece];
    if (digest) c.header(PIECE_DIGEST_HEADER, digest);
  }
  if (!range) return streamResponse(c, body, 200);
  c.header('Content-Range', formatContentRange(range, meta.contentLength));
  return streamResponse(c, body, 206);
}

/** The index of the piece `range` covers exactly (no range: the whole task), if it is one piece. */
function singlePiece(meta: TaskMeta, range: ResolvedRange | undefined): number | undefined {
  const { pieceSize, contentLength } = meta;
  if (!range) return computePieceCount(contentLength, pieceSize) === 1 ? 0 : undefined;
  if (range.start % pieceSize !== 0) return undefined;
  const index = range.start / pieceSize;
  const end = Math.min(range.start + pieceSize, contentLength) - 1;
  return range.end === end ? index : undefined;
}

/** `source` with its first byte XORed with 0xff, chunk by chunk; destroying one ends both. */
function flipFirstByte(source: Readable): Readable {
  let flipped = false;
  const corrupt = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (flipped || chunk.length === 0) return callback(null, chunk);
      flipped = true;
      const copy = Buffer.from(chunk);
      copy[0] = (copy[0] ?? 0) ^ 0xff;
      callback(null, copy);
    },
  });
  return pipeline(source, corrupt, () => {});
}
