import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ObjectBackend } from '../../lib/backends/object-backend.ts';
import { createDfstoreClient, type DfstoreClient } from '../../lib/client/dfstore-client.ts';
import type { WriteMode } from '../../lib/core/write-mode.ts';
import { backendCopy, type SeededObject } from '../../test/helpers/seeded-objects.ts';

/** The client side of the fault bench: writers that tally acks and error codes, and checks. */

export interface Tally {
  readonly acked: SeededObject[];
  /** `<status> <code>` (or a network error's code) → count. */
  readonly errors: Map<string, number>;
  /** Slowest client request seen (ms): a request hanging on a fault shows here. */
  maxWaitMs: number;
}

export function newTally(): Tally {
  return { acked: [], errors: new Map(), maxWaitMs: 0 };
}

export function mergeTallies(into: Tally, from: Tally): void {
  into.acked.push(...from.acked);
  for (const [code, n] of from.errors) into.errors.set(code, (into.errors.get(code) ?? 0) + n);
  into.maxWaitMs = Math.max(into.maxWaitMs, from.maxWaitMs);
}

export function errorLabel(error: unknown): string {
  const e = error as { status?: number; code?: string; cause?: { code?: string } };
  if (typeof e.status === 'number') return `${e.status} ${e.code ?? ''}`.trim();
  return e.cause?.code ?? e.code ?? (error as Error).name ?? 'error';
}

export function formatErrors(errors: Map<string, number>): string {
  if (errors.size === 0) return 'none';
  return [...errors.entries()].map(([code, n]) => `${code} ×${n}`).join(', ');
}

let seq = 0;
export function randomObject(prefix: string, size: number): SeededObject {
  const data = randomBytes(size);
  return {
    key: `${prefix}/${seq++}-${size}.bin`,
    size,
    data,
    sha256: createHash('sha256').update(data).digest('hex'),
    digest: `md5:${createHash('md5').update(data).digest('hex')}`,
  };
}

const clients = new Map<string, DfstoreClient>();
export function clientFor(api: string): DfstoreClient {
  let client = clients.get(api);
  if (!client) {
    client = createDfstoreClient({ endpoint: api, headersTimeoutMs: 120_000 });
    clients.set(api, client);
  }
  return client;
}
export async function closeFaultClients(): Promise<void> {
  await Promise.all([...clients.values()].map((c) => c.destroy()));
  clients.clear();
}

/** One PUT; acked objects go into the tally, failures are counted by code. */
export async function putTallied(
  api: string,
  bucket: string,
  object: SeededObject,
  mode: WriteMode,
  tally: Tally,
): Promise<boolean> {
  const started = Date.now();
  try {
    await clientFor(api).putObject(bucket, object.key, Readable.from([object.data]), { mode });
    tally.acked.push(object);
    return true;
  } catch (error) {
    const label = `PUT${mode} ${errorLabel(error)}`;
    tally.errors.set(label, (tally.errors.get(label) ?? 0) + 1);
    return false;
  } finally {
    tally.maxWaitMs = Math.max(tally.maxWaitMs, Date.now() - started);
  }
}

/**
 * PUTs with `concurrency` workers until `until()` says stop: objects of 16 KiB..maxSize,
 * `mode` chosen per object by `modeOf(n)`, writer API by `apiOf(n)`.
 */
export async function writeUntil(options: {
  readonly bucket: string;
  readonly prefix: string;
  readonly until: () => boolean;
  readonly apiOf: (n: number) => string;
  readonly modeOf?: (n: number) => WriteMode;
  readonly concurrency?: number;
  readonly maxSize?: number;
  readonly tally: Tally;
  /** Sizes are fixed at maxSize (disk filling). */
  readonly fixedSize?: boolean;
}): Promise<void> {
  let n = 0;
  const max = options.maxSize ?? 1024 * 1024;
  await Promise.all(
    Array.from({ length: options.concurrency ?? 4 }, async () => {
      while (!options.until()) {
        const i = n++;
        const size = options.fixedSize ? max : 16 * 1024 + Math.floor(Math.random() * max);
        const object = randomObject(options.prefix, size);
        const mode = options.modeOf?.(i) ?? 0;
        const ok = await putTallied(options.apiOf(i), options.bucket, object, mode, options.tally);
        // Mode 1 failures are expected during faults; they must not be counted as acked.
        if (!ok) await sleep(50);
      }
    }),
  );
}

/** GETs the object through a daemon: true when the whole body has the right sha256. */
export async function readsBack(api: string, bucket: string, object: SeededObject) {
  try {
    const got = await clientFor(api).getObject(bucket, object.key);
    const hash = createHash('sha256');
    for await (const chunk of got.body as AsyncIterable<Buffer>) hash.update(chunk);
    return hash.digest('hex') === object.sha256;
  } catch {
    return false;
  }
}

/** Acked objects missing or wrong in S3 or through any of `apis`: the "lost" count. */
export async function countLost(
  backend: ObjectBackend,
  bucket: string,
  acked: readonly SeededObject[],
  apis: readonly string[],
): Promise<number> {
  let lost = 0;
  for (const object of acked) {
    let ok = (await backendCopy(backend, bucket, object).catch(() => 'error')) === 'ok';
    for (const api of apis) ok = ok && (await readsBack(api, bucket, object));
    if (!ok) lost++;
  }
  return lost;
}

/** Polls `probe` every 100 ms; resolves the ms it took, or throws after `timeoutMs`. */
export async function timeUntil(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await probe().catch(() => false)) return Date.now() - start;
    await sleep(100);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}
