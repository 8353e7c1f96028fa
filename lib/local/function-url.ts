/**
 * The Lambda function URL contract (payload format 2.0), as far as dfstore uses it: the event a
 * function URL hands the function, the result it expects back, the invocation context, the
 * payload limits and which bodies travel as text. Pure: shared by the local function host
 * (function-host.ts) and the functions themselves (functions/*.ts, for serverless-http's
 * `binary` option), so both sides agree on what is base64.
 *
 * Source: https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
 */

/** What Lambda passes to a function behind a function URL (auth type NONE). */
export interface FunctionUrlEvent {
  readonly version: '2.0';
  readonly routeKey: '$default';
  /** The path as sent, not percent-decoded. */
  readonly rawPath: string;
  /** Without the `?`; empty when there is no query. */
  readonly rawQueryString: string;
  /** The `cookie` header split into `name=value` pairs; absent without cookies. */
  readonly cookies?: string[];
  /** Lower-case names; repeated headers joined with `,`. No `cookie` (see `cookies`). */
  readonly headers: Record<string, string>;
  /** Decoded; repeated parameters joined with `,`. Absent without a query. */
  readonly queryStringParameters?: Record<string, string>;
  readonly requestContext: {
    readonly accountId: string;
    readonly apiId: string;
    readonly domainName: string;
    readonly domainPrefix: string;
    readonly http: {
      readonly method: string;
      readonly path: string;
      readonly protocol: string;
      readonly sourceIp: string;
      readonly userAgent: string;
    };
    readonly requestId: string;
    readonly routeKey: '$default';
    readonly stage: '$default';
    /** `12/Mar/2020:19:03:58 +0000` */
    readonly time: string;
    readonly timeEpoch: number;
  };
  /** Absent without a body; base64 when `isBase64Encoded`. */
  readonly body?: string;
  readonly isBase64Encoded: boolean;
}

/**
 * A structured result. A function may also return any other JSON value: without a
 * `statusCode`, Lambda answers 200 `application/json` with that value, serialized, as the body.
 */
export interface FunctionUrlResult {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string | number | boolean>>;
  /** Payload format 1.0's field; honoured (it wins over `headers` for the same name). */
  readonly multiValueHeaders?: Readonly<Record<string, readonly (string | number | boolean)[]>>;
  /** Each becomes a `set-cookie` header. */
  readonly cookies?: readonly string[];
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
}

/** The parts of Lambda's `context` object a handler can rely on. */
export interface LambdaContext {
  readonly awsRequestId: string;
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

export type FunctionUrlHandler = (
  event: FunctionUrlEvent,
  context: LambdaContext,
) => Promise<unknown>;

const MiB = 1024 * 1024;

/**
 * Lambda's synchronous invocation limits, measured on the JSON payloads (so a binary body counts
 * as its base64, 4/3 of its size). Requests must be at most 6 MiB ("Request must be smaller than
 * 6291456 bytes for the InvokeFunction operation"); responses may be 100 bytes more ("Exceeded
 * maximum allowed payload size (6291556 bytes)").
 */
export const FUNCTION_URL_LIMITS = {
  requestBytes: 6 * MiB,
  responseBytes: 6 * MiB + 100,
} as const;

/**
 * Whether a body of this media type travels as text (as-is) rather than base64: `text/*` and
 * JSON, XML and JavaScript types (`application/json`, `application/problem+json`, `image/svg+xml`,
 * …). Everything else, a missing content type included, is binary.
 */
export function isTextContentType(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
  if (type.startsWith('text/')) return true;
  return /^[a-z0-9.+-]+\/(?:[a-z0-9.+-]*\+)?(?:json|xml|javascript|x-javascript)$/.test(type);
}
