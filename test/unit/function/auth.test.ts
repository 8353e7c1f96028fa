import * as crypto from 'node:crypto';
import { Hono } from 'hono';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createErrorHandler } from '../../../lib/api/error-handler.ts';
import { staticTokenSource, type TokenSource } from '../../../lib/function/api-token.ts';
import {
  presentedToken,
  tokenAuth,
  tokensEqual,
  WWW_AUTHENTICATE,
} from '../../../lib/function/auth.ts';

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  const spy = vi.fn((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) =>
    original.timingSafeEqual(a, b),
  );
  return { ...original, timingSafeEqual: spy };
});

const TOKEN = 'correct-horse-battery-staple';
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function appWith(tokens: TokenSource) {
  const app = new Hono();
  app.onError(createErrorHandler());
  app.use('*', tokenAuth(tokens));
  app.get('/healthy', (c) => c.json('OK'));
  app.get('/buckets/:bucket/objects/*', (c) => c.text('object'));
  return app;
}

describe('presentedToken', () => {
  it.each([
    ['Basic with the Go CLI’s user name', basic('dfstore', TOKEN), TOKEN],
    ['Basic with any user name', basic('someone', TOKEN), TOKEN],
    ['Basic with a colon in the password', basic('dfstore', 'a:b'), 'a:b'],
    ['Bearer', `Bearer ${TOKEN}`, TOKEN],
    ['lower-case scheme', `bearer ${TOKEN}`, TOKEN],
  ])('reads %s', (_, header, token) => {
    expect(presentedToken(header)).toBe(token);
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['another scheme', `Digest ${TOKEN}`],
    ['Basic without a colon', `Basic ${Buffer.from(TOKEN).toString('base64')}`],
    ['Basic with an empty password', basic('dfstore', '')],
    ['a scheme alone', 'Bearer'],
  ])('finds none in %s', (_, header) => {
    expect(presentedToken(header)).toBeUndefined();
  });
});

describe('tokensEqual', () => {
  beforeEach(() => {
    vi.mocked(crypto.timingSafeEqual).mockClear();
  });

  it('compares fixed-size hashes, so tokens of any length go through timingSafeEqual', () => {
    expect(tokensEqual(TOKEN, TOKEN)).toBe(true);
    expect(tokensEqual('x', TOKEN)).toBe(false);
    expect(tokensEqual(`${TOKEN}x`, TOKEN)).toBe(false);
    const calls = vi.mocked(crypto.timingSafeEqual).mock.calls;
    expect(calls).toHaveLength(3);
    for (const [a, b] of calls) {
      expect((a as Buffer).length).toBe(32);
      expect((b as Buffer).length).toBe(32);
    }
  });
});

describe('tokenAuth', () => {
  const app = appWith(staticTokenSource(TOKEN));
  const get = (authorization?: string) =>
    app.request('/buckets/bkt/objects/k', {
      headers: authorization ? { authorization } : {},
    });

  it('lets Basic dfstore:TOKEN and Bearer TOKEN through', async () => {
    expect((await get(basic('dfstore', TOKEN))).status).toBe(200);
    expect((await get(`Bearer ${TOKEN}`)).status).toBe(200);
  });

  it('answers a missing token with 401 and a Basic challenge', async () => {
    const response = await get();
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(WWW_AUTHENTICATE);
    expect(await response.json()).toEqual({
      errors: 'missing or invalid credentials',
      code: 'ERR_UNAUTHORIZED',
    });
  });

  it('answers a wrong token exactly like a missing one', async () => {
    const missing = await get();
    for (const header of [basic('dfstore', 'wrong'), `Bearer ${TOKEN.slice(1)}`, 'Digest x']) {
      const wrong = await get(header);
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toBe(missing.headers.get('www-authenticate'));
      expect(await wrong.text()).toBe(await (await get()).text());
    }
  });

  it('leaves GET /healthy open', async () => {
    expect((await app.request('/healthy')).status).toBe(200);
  });

  it('answers 500 without a hint when the token cannot be read', async () => {
    const broken = appWith({
      token: async () => {
        throw new Error('secret unavailable');
      },
    });
    const response = await broken.request('/buckets/bkt/objects/k', {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({
      errors: 'Internal Server Error',
      code: 'ERR_INTERNAL',
    });
  });
});
