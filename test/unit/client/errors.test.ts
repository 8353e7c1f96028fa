import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDfstoreClient, type DfstoreClient } from '../../../lib/client/dfstore-client.ts';
import {
  DfstoreForbiddenError,
  DfstoreHttpError,
  DfstoreNotFoundError,
  DfstoreUnauthorizedError,
  parseErrorBody,
} from '../../../lib/client/errors.ts';
import { DfstoreError } from '../../../lib/core/errors.ts';

const origin = 'http://127.0.0.1:65004';
let agent: MockAgent;
let client: DfstoreClient;

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  client = createDfstoreClient({ endpoint: origin, dispatcher: agent });
});
afterEach(async () => {
  await agent.close();
});

/** The rejection of a call, for assertions on its class and fields. */
async function failure(promise: Promise<unknown>): Promise<DfstoreHttpError> {
  return promise.then(
    () => expect.fail('expected the call to fail'),
    (error: unknown) => {
      expect(error).toBeInstanceOf(DfstoreHttpError);
      return error as DfstoreHttpError;
    },
  );
}

const json = { headers: { 'content-type': 'application/json; charset=utf-8' } };

describe('error mapping', () => {
  it('maps 404 with a dfstore JSON body to DfstoreNotFoundError with message and code', async () => {
    agent
      .get(origin)
      .intercept({ path: '/buckets/b/objects/missing', method: 'GET' })
      .reply(404, { errors: 'Not Found', code: 'ERR_OBJECT_NOT_FOUND' }, json);
    const error = await failure(client.getObject('b', 'missing'));
    expect(error).toBeInstanceOf(DfstoreNotFoundError);
    expect(error).toBeInstanceOf(DfstoreError);
    expect(error).toMatchObject({
      status: 404,
      statusCode: 404,
      code: 'ERR_OBJECT_NOT_FOUND',
      serverMessage: 'Not Found',
      method: 'GET',
      path: '/buckets/b/objects/missing',
    });
    expect(error.message).toBe(
      'GET /buckets/b/objects/missing: 404 Not Found (ERR_OBJECT_NOT_FOUND)',
    );
  });

  it('maps a bodiless HEAD 404 to DfstoreNotFoundError and objectExists to false', async () => {
    const pool = agent.get(origin);
    pool.intercept({ path: '/buckets/b/objects/k', method: 'HEAD' }).reply(404, '').times(2);
    const error = await failure(client.headObject('b', 'k'));
    expect(error).toBeInstanceOf(DfstoreNotFoundError);
    expect(error.code).toBe('ERR_HTTP_404');
    expect(await client.objectExists('b', 'k')).toBe(false);
  });

  it.each([
    [401, DfstoreUnauthorizedError],
    [403, DfstoreForbiddenError],
  ])('maps %i to its own class', async (status, type) => {
    agent
      .get(origin)
      .intercept({ path: '/buckets/b/objects/k', method: 'DELETE' })
      .reply(status, 'token rejected');
    const error = await failure(client.deleteObject('b', 'k'));
    expect(error).toBeInstanceOf(type);
    expect(error).not.toBeInstanceOf(DfstoreNotFoundError);
    expect(error.serverMessage).toBe('token rejected');
  });

  it('keeps 422 and 5xx as DfstoreHttpError with the status as contract', async () => {
    const pool = agent.get(origin);
    pool
      .intercept({ path: '/buckets/BAD', method: 'POST' })
      .reply(422, { errors: 'invalid bucket name "BAD"', code: 'ERR_INVALID_ARGUMENT' }, json);
    pool.intercept({ path: '/buckets/b', method: 'POST' }).reply(503, '<html>busy</html>');
    const invalid = await failure(client.createBucket('BAD'));
    expect(invalid.constructor).toBe(DfstoreHttpError);
    expect(invalid.message).toBe(
      'POST /buckets/BAD: 422 Unprocessable Entity: invalid bucket name "BAD" (ERR_INVALID_ARGUMENT)',
    );
    const busy = await failure(client.createBucket('b'));
    expect(busy).toMatchObject({ status: 503, code: 'ERR_HTTP_503', serverMessage: undefined });
    expect(busy.exposeMessage).toBe(false);
  });

  it('parses error bodies defensively', () => {
    expect(parseErrorBody('{"errors":"bad","code":"ERR_X"}')).toEqual({
      message: 'bad',
      code: 'ERR_X',
    });
    expect(parseErrorBody('"just a string"')).toEqual({ message: 'just a string' });
    expect(parseErrorBody('')).toEqual({});
    expect(parseErrorBody('<!doctype html><p>proxy</p>')).toEqual({});
    expect(parseErrorBody('x'.repeat(500))).toEqual({});
  });

  it('lets connection failures through as they are', async () => {
    agent
      .get(origin)
      .intercept({ path: '/healthy', method: 'GET' })
      .replyWithError(new Error('connect ECONNREFUSED'));
    await expect(client.healthy()).rejects.toThrow('ECONNREFUSED');
  });
});
