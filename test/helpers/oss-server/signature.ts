import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { accessDenied, invalidArgument, OssError } from './oss-error.ts';

export interface Credentials {
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
}

/** What a V1 signature covers: the method, headers, and `/bucket/key` plus signed sub-resources. */
export interface SignedRequest {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  /** `/`, `/bucket/` or `/bucket/key` with the key decoded, as OSS canonicalizes it. */
  readonly resourcePath: string;
  readonly query: URLSearchParams;
}

/**
 * Query parameters that are part of the V1 CanonicalizedResource (the sub-resource whitelist of
 * Aliyun's SDKs); all others (prefix, marker, max-keys...) are not signed.
 */
const SUB_RESOURCES = new Set(
  (
    'acl uploads location cors logging website referer lifecycle delete append tagging objectMeta ' +
    'uploadId partNumber security-token position img style styleName replication ' +
    'replicationProgress replicationLocation cname bucketInfo comp qos live status vod startTime ' +
    'endTime symlink x-oss-process response-content-type x-oss-traffic-limit ' +
    'response-content-language response-expires response-cache-control ' +
    'response-content-disposition response-content-encoding udf udfName udfImage udfId ' +
    'udfImageDesc udfApplication udfApplicationLog restore callback callback-var qosInfo policy ' +
    'stat encryption versions versioning versionId requestPayment x-oss-request-payer sequential ' +
    'inventory inventoryId continuation-token asyncFetch worm wormId wormExtend'
  ).split(' '),
);

export function isSubResource(name: string): boolean {
  return SUB_RESOURCES.has(name);
}

/** OSS rejects header-signed requests whose date is further than this from its clock. */
const MAX_CLOCK_SKEW_MS = 15 * 60_000;

/**
 * Verifies an OSS V1 signature, from the `Authorization: OSS <id>:<sig>` header or from the
 * `OSSAccessKeyId`/`Expires`/`Signature` query of a presigned URL. Throws the OssError that
 * Aliyun OSS answers with (InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied...).
 */
export function verifySignature(
  request: SignedRequest,
  credentials: Credentials,
  now = Date.now(),
): void {
  const { query, headers } = request;
  if (query.has('OSSAccessKeyId') || query.has('Signature') || query.has('Expires')) {
    const accessKeyId = query.get('OSSAccessKeyId');
    const expires = query.get('Expires');
    const signature = query.get('Signature');
    if (!accessKeyId || !expires || !signature) {
      throw accessDenied(
        'Query-string authentication requires the Signature, Expires and OSSAccessKeyId parameters',
      );
    }
    checkAccessKeyId(accessKeyId, credentials);
    if (!/^\d+$/.test(expires)) throw accessDenied('Invalid expires.');
    if (Math.floor(now / 1000) > Number(expires)) {
      throw new OssError(403, 'AccessDenied', 'Request has expired.', {
        Expires: new Date(Number(expires) * 1000).toISOString(),
        ServerTime: new Date(now).toISOString(),
      });
    }
    checkSignature(signature, stringToSign(request, expires), credentials);
    return;
  }

  const authorization = headers.authorization;
  if (!authorization) {
    throw accessDenied('You have no right to access this object because of bucket acl.');
  }
  if (authorization.startsWith('OSS4-HMAC-SHA256')) {
    throw invalidArgument('This test server verifies OSS V1 signatures only.');
  }
  const match = /^OSS ([^:\s]+):(\S+)$/.exec(authorization);
  if (!match) throw invalidArgument('Authorization header is invalid.', 'Authorization');
  const [, accessKeyId = '', signature = ''] = match;
  checkAccessKeyId(accessKeyId, credentials);
  const date = header(headers, 'x-oss-date') ?? header(headers, 'date');
  const time = date === undefined ? Number.NaN : Date.parse(date);
  if (Number.isNaN(time)) throw accessDenied('Date header or x-oss-date is missing or invalid.');
  if (Math.abs(now - time) > MAX_CLOCK_SKEW_MS) {
    throw new OssError(
      403,
      'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
      { RequestTime: date ?? '', ServerTime: new Date(now).toUTCString() },
    );
  }
  checkSignature(signature, stringToSign(request, date ?? ''), credentials);
}

/**
 * VERB \n Content-MD5 \n Content-Type \n Date-or-Expires \n sorted `x-oss-*:value` lines \n
 * CanonicalizedResource.
 */
export function stringToSign(request: SignedRequest, dateOrExpires: string): string {
  const { headers } = request;
  const ossHeaders = Object.keys(headers)
    .map((name) => name.toLowerCase())
    .filter((name) => name.startsWith('x-oss-'))
    .sort()
    .map((name) => `${name}:${(header(headers, name) ?? '').trim()}`);
  return [
    request.method.toUpperCase(),
    header(headers, 'content-md5') ?? '',
    header(headers, 'content-type') ?? '',
    dateOrExpires,
    ...ossHeaders,
    canonicalResource(request.resourcePath, request.query),
  ].join('\n');
}

export function canonicalResource(resourcePath: string, query: URLSearchParams): string {
  const names = [...new Set(query.keys())].filter((name) => SUB_RESOURCES.has(name)).sort();
  if (names.length === 0) return resourcePath;
  const pairs = names.map((name) => {
    const value = query.get(name);
    return value ? `${name}=${value}` : name;
  });
  return `${resourcePath}?${pairs.join('&')}`;
}

export function computeSignature(secret: string, text: string): string {
  return createHmac('sha1', secret).update(text, 'utf8').digest('base64');
}

function checkAccessKeyId(accessKeyId: string, credentials: Credentials): void {
  if (accessKeyId !== credentials.accessKeyId) {
    throw new OssError(
      403,
      'InvalidAccessKeyId',
      'The OSS Access Key Id you provided does not exist in our records.',
      { OSSAccessKeyId: accessKeyId },
    );
  }
}

function checkSignature(given: string, text: string, credentials: Credentials): void {
  const expected = Buffer.from(computeSignature(credentials.accessKeySecret, text));
  const actual = Buffer.from(given);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new OssError(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      { StringToSign: text, OSSAccessKeyId: credentials.accessKeyId },
    );
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}
