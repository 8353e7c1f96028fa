import { createHash, randomInt } from 'node:crypto';
import type { ObjectBackend } from '../../lib/backends/object-backend.ts';
import { NotFoundError } from '../../lib/core/errors.ts';
import type { WireResponse } from './go-dfstore-wire.ts';
import { patternStream, readAll, sha256OfStream } from './streams.ts';

/** Test objects with deterministic content, drawn from a seeded PRNG (failures replay). */

const KiB = 1024;
const MiB = 1024 * KiB;

/** mulberry32: a small, fast, seedable PRNG returning values in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed in `env[name]` when set (to replay a failure), else a fresh random one. */
export function seedFrom(env: NodeJS.ProcessEnv, name: string): number {
  const given = env[name];
  if (given === undefined || given === '') return randomInt(2 ** 31);
  const seed = Number(given);
  if (!Number.isSafeInteger(seed)) throw new Error(`${name}=${given} is not an integer seed`);
  return seed;
}

export interface SeededObject {
  readonly key: string;
  readonly size: number;
  readonly data: Buffer;
  readonly sha256: string;
  /** `md5:<hex>`, the `digest` metadata the object must carry. */
  readonly digest: string;
}

export async function seededObject(key: string, size: number, seed: number) {
  const data = await readAll(patternStream(size, seed));
  return {
    key,
    size,
    data,
    sha256: createHash('sha256').update(data).digest('hex'),
    digest: `md5:${createHash('md5').update(data).digest('hex')}`,
  } satisfies SeededObject;
}

/**
 * `count` objects under `prefix`, in random order: the edge sizes (0 B, 1 B, one 4 MiB piece,
 * a piece + 1 B, 5 MiB + 3 B) and otherwise mostly small, some up to 1 MiB, a few up to 3 MiB.
 */
export async function seededObjects(
  prefix: string,
  count: number,
  random: () => number,
): Promise<SeededObject[]> {
  const sizes = [0, 1, 4 * MiB, 4 * MiB + 1, 5 * MiB + 3].slice(0, count);
  while (sizes.length < count) {
    const p = random();
    const max = p < 0.6 ? 64 * KiB : p < 0.9 ? MiB : 3 * MiB;
    sizes.push(1 + Math.floor(random() * max));
  }
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [sizes[i], sizes[j]] = [sizes[j] ?? 0, sizes[i] ?? 0];
  }
  return Promise.all(
    sizes.map((size, i) =>
      seededObject(`${prefix}obj-${String(i).padStart(2, '0')}.bin`, size, 1 + randomInt32(random)),
    ),
  );
}

function randomInt32(random: () => number): number {
  return Math.floor(random() * 0x7fffffff);
}

/**
 * Judges a GET or HEAD answer of the daemon for `object`: undefined when it is a 404 (allowed
 * only if `mustExist` is false) or exactly the object; otherwise what is wrong.
 */
export function judgeAnswer(
  method: 'GET' | 'HEAD',
  object: SeededObject,
  res: WireResponse,
  mustExist = false,
): string | undefined {
  const what = `${method} ${object.key} (${object.size} B)`;
  if (res.status === 404 && !mustExist) return undefined;
  if (res.status !== 200) {
    return `${what}: status ${res.status} ${res.body.toString('utf8').slice(0, 200)}`;
  }
  if (method === 'HEAD') {
    const length = res.headers['content-length'];
    const digest = res.headers['x-dragonfly-object-meta-digest'];
    if (length === String(object.size) && digest === object.digest) return undefined;
    return `${what}: HEAD says ${length} B, digest ${digest}; want ${object.digest}`;
  }
  const sum = createHash('sha256').update(res.body).digest('hex');
  if (res.body.length === object.size && sum === object.sha256) return undefined;
  return `${what}: partial or wrong content, ${res.body.length} B with sha256 ${sum}`;
}

/**
 * The object as the backend holds it: 'absent', 'ok' (complete, byte-identical, with its
 * digest metadata), or what is wrong with it.
 */
export async function backendCopy(
  backend: ObjectBackend,
  bucket: string,
  object: SeededObject,
): Promise<string> {
  const head = await backend.headObject(bucket, object.key).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  if (!head) return 'absent';
  const what = `backend ${object.key} (${object.size} B)`;
  if (head.contentLength !== object.size || head.digest !== object.digest) {
    return `${what}: has ${head.contentLength} B, digest ${head.digest}; want ${object.digest}`;
  }
  const { body } = await backend.getObject(bucket, object.key);
  const sum = await sha256OfStream(body);
  return sum === object.sha256 ? 'ok' : `${what}: content differs (sha256 ${sum})`;
}
