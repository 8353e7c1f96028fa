import { Agent, type Dispatcher, request } from 'undici';
import * as z from 'zod';
import { parseErrorBody } from '../client/errors.ts';
import { P2pHttpError } from './p2p-errors.ts';
import {
  type CurrentVersion,
  currentVersionSchema,
  type ImportRequest,
  type KeyChange,
  type KeyChangeResult,
  keyChangeResultSchema,
  P2P_PREFIX,
  type SyncRequest,
  type SyncResponse,
  syncResponseSchema,
} from './p2p-protocol.ts';

// In its own module so that the object API function, which does not bundle this client (undici),
// throws the same class (lib/function/seed-peer-client.ts).
export { P2pHttpError } from './p2p-errors.ts';

export interface P2pClientOptions {
  /** Connection pool shared by every call; default one of our own, closed by close(). */
  readonly dispatcher?: Dispatcher;
  /** Wait for response headers (default 10 s; a long-polled sync adds its `waitMs`). */
  readonly headersTimeoutMs?: number;
  /** Longest stall while reading a body (default 30 s). */
  readonly bodyTimeoutMs?: number;
}

/** Talks the cluster protocol (lib/peer/p2p-protocol.ts) to other daemons' piece servers. */
export interface P2pClient {
  /** Announce + holders at a task's tracker (`pieces` is the tracker's piece server URL). */
  sync(
    pieces: string,
    taskId: string,
    body: SyncRequest,
    signal?: AbortSignal,
  ): Promise<SyncResponse>;
  keyChanged(pieces: string, change: KeyChange, signal?: AbortSignal): Promise<KeyChangeResult>;
  /** The key's pending cluster-held version at a seed peer, or undefined (404). */
  currentVersion(
    pieces: string,
    bucket: string,
    key: string,
    signal?: AbortSignal,
  ): Promise<CurrentVersion | undefined>;
  /** Asks a daemon to land its pending write-back of the key now; resolves once landed. */
  flushKey(pieces: string, bucket: string, key: string, signal?: AbortSignal): Promise<void>;
  /** Asks a seed peer to fetch a version from the backend into its cache (202, no wait). */
  importTask(
    pieces: string,
    taskId: string,
    request: ImportRequest,
    signal?: AbortSignal,
  ): Promise<void>;
  /**
   * Bytes `start..end` (inclusive) of a task from a holder, in memory (one piece ≤ 15 MiB):
   * copied into `into` when given (a reused buffer at least that long; the result is a view of
   * it), else into a fresh buffer.
   */
  fetchRange(
    pieces: string,
    taskId: string,
    range: { start: number; end: number },
    options?: { signal?: AbortSignal; peerId?: string; into?: Buffer },
  ): Promise<Buffer>;
  close(): Promise<void>;
}

export function createP2pClient(options: P2pClientOptions = {}): P2pClient {
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const bodyTimeout = options.bodyTimeoutMs ?? 30_000;
  const dispatcher = options.dispatcher ?? new Agent({ connections: 64, keepAliveTimeout: 30_000 });
  const owned = dispatcher !== options.dispatcher;

  async function call<T>(
    method: 'GET' | 'POST',
    url: string,
    schema: z.ZodType<T>,
    body: unknown,
    extra: { signal?: AbortSignal; waitMs?: number },
  ): Promise<T> {
    const res = await request(url, {
      method,
      dispatcher,
      signal: extra.signal,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: headersTimeout + (extra.waitMs ?? 0),
      bodyTimeout,
    });
    if (res.statusCode >= 300) throw await httpError(res, method, url);
    return schema.parse(await res.body.json());
  }

  return {
    sync(pieces, taskId, body, signal) {
      const url = `${origin(pieces)}${P2P_PREFIX}/tasks/${taskId}/sync`;
      return call('POST', url, syncResponseSchema, body, { signal, waitMs: body.waitMs });
    },
    keyChanged(pieces, change, signal) {
      const url = `${origin(pieces)}${P2P_PREFIX}/keys/changed`;
      return call('POST', url, keyChangeResultSchema, change, { signal });
    },
    async currentVersion(pieces, bucket, key, signal) {
      const query = new URLSearchParams({ bucket, key });
      const url = `${origin(pieces)}${P2P_PREFIX}/keys/current?${query}`;
      try {
        return await call('GET', url, currentVersionSchema, undefined, { signal });
      } catch (error) {
        if (error instanceof P2pHttpError && error.status === 404) return undefined;
        throw error;
      }
    },
    async flushKey(pieces, bucket, key, signal) {
      const url = `${origin(pieces)}${P2P_PREFIX}/keys/flush`;
      await call('POST', url, anyJson, { bucket, key }, { signal });
    },
    async importTask(pieces, taskId, request, signal) {
      const url = `${origin(pieces)}${P2P_PREFIX}/tasks/${taskId}/import`;
      await call('POST', url, anyJson, request, { signal });
    },
    async fetchRange(pieces, taskId, range, extra = {}) {
      const query = extra.peerId ? `?${new URLSearchParams({ peerId: extra.peerId })}` : '';
      const url = `${origin(pieces)}/download/${taskId.slice(0, 3)}/${taskId}${query}`;
      const res = await request(url, {
        method: 'GET',
        dispatcher,
        signal: extra.signal,
        headers: { range: `bytes=${range.start}-${range.end}` },
        headersTimeout,
        bodyTimeout,
      });
      if (res.statusCode !== 206 && res.statusCode !== 200) {
        throw await httpError(res, 'GET', url);
      }
      const expected = range.end - range.start + 1;
      // Chunks go straight into place: no list of chunks concatenated at the end.
      const data =
        extra.into && extra.into.length >= expected
          ? extra.into.subarray(0, expected)
          : Buffer.allocUnsafe(expected);
      let received = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        if (received + chunk.length > expected) {
          res.body.destroy();
          throw new P2pHttpError(res.statusCode, 'ERR_LONG_BODY', `${url}: over ${expected} bytes`);
        }
        chunk.copy(data, received);
        received += chunk.length;
      }
      if (received !== expected) {
        throw new P2pHttpError(
          res.statusCode,
          'ERR_SHORT_BODY',
          `${url}: ${received} of ${expected} bytes`,
        );
      }
      return data;
    },
    async close() {
      if (owned) await dispatcher.close();
    },
  };
}

const anyJson = z.unknown();

function origin(pieces: string): string {
  return pieces.replace(/\/+$/, '');
}

async function httpError(
  res: Dispatcher.ResponseData,
  method: string,
  url: string,
): Promise<P2pHttpError> {
  const text = await res.body.text().catch(() => '');
  const { message, code } = parseErrorBody(text);
  const path = new URL(url).pathname;
  return new P2pHttpError(
    res.statusCode,
    code,
    `${method} ${path}: HTTP ${res.statusCode}${message ? ` ${message}` : ''}`,
  );
}
