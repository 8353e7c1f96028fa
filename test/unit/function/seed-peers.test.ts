import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { DfstoreClient } from '../../../lib/client/dfstore-client.ts';
import { DfstoreHttpError, httpErrorFor } from '../../../lib/client/errors.ts';
import { ObjectNotFoundError } from '../../../lib/core/errors.ts';
import {
  createSeedPeerObjectService,
  isUnreachable,
  SeedPeerAnswerError,
} from '../../../lib/function/seed-peer-service.ts';
import { createSeedPeerDirectory } from '../../../lib/function/seed-peers.ts';
import { rankedIds, seedPeerList } from './fakes.ts';

describe('createSeedPeerDirectory', () => {
  it('maps membership entries to object API and piece server URLs', async () => {
    const directory = createSeedPeerDirectory({ source: { list: async () => seedPeerList(1) } });
    expect(await directory.all()).toEqual([
      { id: 'seed-0', objectApi: 'http://10.0.0.1:65004', pieces: 'http://10.0.0.1:65002' },
    ]);
  });

  it('ranks by the placement key over the whole list, as every peer does', async () => {
    const peers = seedPeerList(5);
    const directory = createSeedPeerDirectory({ source: { list: async () => peers } });
    expect((await directory.ranked('bkt/key')).map((p) => p.id)).toEqual(
      rankedIds('bkt/key', peers),
    );
  });

  it('asks the source once per TTL, one request for concurrent callers', async () => {
    let now = 0;
    let calls = 0;
    const directory = createSeedPeerDirectory({
      source: {
        list: async () => {
          calls++;
          return seedPeerList(2);
        },
      },
      cacheTtlMs: 1000,
      now: () => now,
    });
    await Promise.all([directory.all(), directory.all(), directory.ranked('x')]);
    now = 999;
    await directory.all();
    expect(calls).toBe(1);
    now = 1000;
    await directory.all();
    expect(calls).toBe(2);
  });

  it('keeps the last list when the source fails, and has none before a first success', async () => {
    let now = 0;
    let fail = true;
    const directory = createSeedPeerDirectory({
      source: {
        list: async () => {
          if (fail) throw new Error('manager down');
          return seedPeerList(2);
        },
      },
      cacheTtlMs: 10,
      now: () => now,
    });
    expect(await directory.all()).toEqual([]);
    fail = false;
    now = 20;
    expect(await directory.all()).toHaveLength(2);
    fail = true;
    now = 40;
    expect(await directory.all()).toHaveLength(2);
  });

  it('leaves an unreachable seed peer out for a while, then tries it again', async () => {
    let now = 0;
    const peers = seedPeerList(3);
    const directory = createSeedPeerDirectory({
      source: { list: async () => peers },
      skipUnreachableMs: 10_000,
      now: () => now,
    });
    const [first, ...rest] = rankedIds('k', peers);
    directory.markUnreachable(first ?? '');
    expect((await directory.ranked('k')).map((p) => p.id)).toEqual(rest);
    now = 10_000;
    expect((await directory.ranked('k')).map((p) => p.id)).toEqual([first, ...rest]);
  });
});

describe('isUnreachable', () => {
  const coded = (code: string) => Object.assign(new Error(code), { code });

  it.each([
    ['a refused connection', coded('ECONNREFUSED')],
    ['a connect timeout', coded('UND_ERR_CONNECT_TIMEOUT')],
    ['a headers timeout', coded('UND_ERR_HEADERS_TIMEOUT')],
    [
      'a cause two levels down',
      new Error('fetch failed', { cause: new Error('x', { cause: coded('EHOSTUNREACH') }) }),
    ],
    ['an AggregateError of attempts', new AggregateError([coded('ECONNREFUSED')], 'all failed')],
    ['a 503 (shutting down)', new SeedPeerAnswerError(503, undefined, undefined)],
  ])('is true for %s', (_, error) => {
    expect(isUnreachable(error)).toBe(true);
  });

  it.each([
    ['an answer', new SeedPeerAnswerError(500, 'ERR_BACKEND', 's3 failed')],
    ['a typed not-found', new ObjectNotFoundError('b', 'k')],
    ['a plain error', new Error('boom')],
    ['nothing', undefined],
  ])('is false for %s', (_, error) => {
    expect(isUnreachable(error)).toBe(false);
  });
});

describe('createSeedPeerObjectService', () => {
  const failing = (error: Error) =>
    ({
      headObject: async () => {
        throw error;
      },
      putObject: async () => {
        throw error;
      },
    }) as unknown as DfstoreClient;

  it('relays an error answer with its status, code and message', async () => {
    const service = createSeedPeerObjectService(
      failing(
        httpErrorFor({
          status: 500,
          method: 'PUT',
          path: '/buckets/b/objects/k',
          serverMessage: 's3 putObject b/k failed: SlowDown (503)',
          serverCode: 'ERR_BACKEND',
        }),
      ),
    );
    const error = await service
      .putObject('bkt', 'k', {
        body: Readable.from([]),
        form: async () => ({ mode: 1 }),
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SeedPeerAnswerError);
    expect(error).toMatchObject({
      statusCode: 500,
      code: 'ERR_BACKEND',
      message: 's3 putObject b/k failed: SlowDown (503)',
      exposeMessage: true,
    });
  });

  it('gives a bodiless 404 (HEAD) the not-found code and message', async () => {
    const service = createSeedPeerObjectService(
      failing(new DfstoreHttpError({ status: 404, method: 'HEAD', path: '/x' })),
    );
    await expect(service.headObject('bkt', 'k')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ERR_NOT_FOUND',
      message: 'Not Found',
    });
  });

  it('lets transport failures through, for the caller to try the next seed peer', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const service = createSeedPeerObjectService(failing(refused));
    await expect(service.headObject('bkt', 'k')).rejects.toBe(refused);
  });
});
