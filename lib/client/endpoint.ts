import { ValidationError } from '../core/errors.ts';

/** A parsed dfstore endpoint: where to send requests and with which credentials. */
export interface Endpoint {
  /** `http(s)://host:port`, no credentials. */
  readonly origin: string;
  /** Path prefix without a trailing `/` (usually empty). */
  readonly basePath: string;
  /** `Basic …` from the endpoint's userinfo, when it has one. */
  readonly authorization?: string;
  /** The endpoint for messages and logs: credentials replaced by `***`. */
  readonly display: string;
}

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:65004';

/**
 * Parses `http(s)://[user:token@]host[:port][/base]`. Userinfo becomes HTTP Basic auth (the
 * authenticated Lambda front accepts `https://dfstore:TOKEN@host`) and never appears in URLs we
 * send or print. Throws ValidationError with upstream's wording: an empty endpoint →
 * `dfstore requires parameter endpoint`; a relative one (`127.0.0.1:65004`) → `invalid endpoint:`
 * followed by Go's `parse "…": invalid URI for request`.
 */
export function parseEndpoint(value: string): Endpoint {
  if (value === '') throw new ValidationError('dfstore requires parameter endpoint');
  // Go's url.ParseRequestURI accepts only an absolute URL or an absolute path.
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
  let url: URL | undefined;
  try {
    url = absolute ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url) {
    throw new ValidationError(
      `invalid endpoint: parse ${JSON.stringify(value)}: invalid URI for request`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ValidationError(
      `invalid endpoint: unsupported scheme ${JSON.stringify(url.protocol.slice(0, -1))}, want http or https`,
    );
  }
  if (url.hostname === '') throw new ValidationError(`invalid endpoint: ${value}: missing host`);
  if (url.search || url.hash) {
    throw new ValidationError(
      `invalid endpoint: ${redact(url)}: must not have a query or fragment`,
    );
  }
  const authorization =
    url.username || url.password
      ? `Basic ${Buffer.from(`${decode(url.username)}:${decode(url.password)}`).toString('base64')}`
      : undefined;
  return {
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ''),
    authorization,
    display: redact(url),
  };
}

function redact(url: URL): string {
  const copy = new URL(url.href);
  if (copy.username || copy.password) {
    copy.username = copy.username ? '***' : '';
    copy.password = copy.password ? '***' : '';
  }
  return copy.href.replace(/\/$/, '');
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
