import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { UnauthorizedError } from '../core/errors.ts';
import type { TokenSource } from './api-token.ts';

/** Sent with every 401: the Go CLI sends Basic credentials from the endpoint's userinfo. */
export const WWW_AUTHENTICATE = 'Basic realm="dfstore"';
/** One message for a missing and a wrong token: no hint which part failed. */
const MESSAGE = 'missing or invalid credentials';

/**
 * How the function authenticates callers: `token` checks an API token on every request but
 * `GET /healthy`; `iam` leaves it to the function URL (AWS_IAM: SigV4 checked by AWS).
 */
export type FunctionAuth =
  | { readonly mode: 'token'; readonly tokens: TokenSource }
  | { readonly mode: 'iam' };

/**
 * The presented token: the password of HTTP Basic (any user name; the Go CLI sends
 * `dfstore:TOKEN`) or a Bearer token. Undefined when there is none.
 */
export function presentedToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^(\S+)\s+(\S+)\s*$/.exec(authorization);
  if (!match) return undefined;
  const [, scheme = '', value = ''] = match;
  if (/^bearer$/i.test(scheme)) return value;
  if (!/^basic$/i.test(scheme)) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const password = decoded.slice(colon + 1);
  return password === '' ? undefined : password;
}

/**
 * Constant-time comparison whatever the lengths: both sides are hashed first, so neither the
 * length of the token nor the position of the first wrong byte shows in the timing.
 */
export function tokensEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** Checks the API token on every request but `GET|HEAD /healthy` (401 JSON otherwise). */
export function tokenAuth(tokens: TokenSource): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.path === '/healthy' && (c.req.method === 'GET' || c.req.method === 'HEAD')) {
      return next();
    }
    const presented = presentedToken(c.req.header('authorization'));
    // The expected token is read even when none was presented: same work either way.
    const expected = await tokens.token();
    if (presented === undefined || !tokensEqual(presented, expected)) {
      c.header('WWW-Authenticate', WWW_AUTHENTICATE);
      throw new UnauthorizedError(MESSAGE);
    }
    await next();
  };
}
