import type { S3Client } from '@aws-sdk/client-s3';
import type { S3BackendConfig } from '../config/backend-config.ts';

/** `@aws-sdk/client-s3`: the client and its command classes. */
export type S3Module = typeof import('@aws-sdk/client-s3');
type GetSignedUrl = typeof import('@aws-sdk/s3-request-presigner').getSignedUrl;

/** What the S3 adapter calls: the SDK's module, its presigner, and one client. */
export interface S3Sdk {
  readonly s3: S3Module;
  readonly getSignedUrl: GetSignedUrl;
  readonly client: S3Client;
}

let modules: Promise<{ s3: S3Module; getSignedUrl: GetSignedUrl }> | undefined;

/**
 * Loads the AWS SDK's S3 modules once per process, on the first call that needs them. They take
 * ~120 ms to import: a Lambda function whose requests mostly go to seed peers would pay that at
 * every cold start (bench/lambda.ts), and a daemon before it can answer /healthy.
 */
export function loadS3Modules(): Promise<{ s3: S3Module; getSignedUrl: GetSignedUrl }> {
  modules ??= Promise.all([
    import('@aws-sdk/client-s3'),
    import('@aws-sdk/s3-request-presigner'),
  ]).then(([s3, presigner]) => ({ s3, getSignedUrl: presigner.getSignedUrl }));
  return modules;
}

const SILENT_LOGGER = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Checksums only when an operation requires them: Ceph RGW (Pacific) answers the SDK's default
 * streamed `aws-chunked` PutObject with 411, and AWS accepts both.
 */
export function createS3Client(s3: S3Module, config: S3BackendConfig): S3Client {
  const { accessKeyId, secretAccessKey, sessionToken } = config;
  return new s3.S3Client({
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle,
    credentials:
      accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, sessionToken } : undefined,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // socketTimeout is the socket's idle timeout: a stalled server fails the request, a large
    // transfer that keeps moving does not. (The handler's requestTimeout is a total-time timer
    // that only logs a warning unless throwOnRequestTimeout is set.)
    requestHandler: { connectionTimeout: 10_000, socketTimeout: config.requestTimeoutMs },
    // Without a logger the SDK warns on the console when a streamed upload fails; the failure
    // reaches the caller as a typed error anyway.
    logger: SILENT_LOGGER,
  });
}
