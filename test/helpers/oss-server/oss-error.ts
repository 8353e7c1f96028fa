/**
 * An error the test server answers with, as Aliyun OSS does: an HTTP status, an OSS error code
 * and a message, rendered as `<Error>` XML (or, for HEAD, only as headers).
 */
export class OssError extends Error {
  override readonly name = 'OssError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra child elements of `<Error>` (e.g. `StringToSign`), as OSS adds per code. */
    readonly details: Readonly<Record<string, string>> = {},
    /** Extra response headers (e.g. `Content-Range` of a 416). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export const noSuchBucket = (bucket: string) =>
  new OssError(404, 'NoSuchBucket', 'The specified bucket does not exist.', { BucketName: bucket });

export const noSuchKey = (key: string) =>
  new OssError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });

export const noSuchUpload = (uploadId: string) =>
  new OssError(
    404,
    'NoSuchUpload',
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    { UploadId: uploadId },
  );

export const invalidArgument = (message: string, name?: string, value?: string) =>
  new OssError(
    400,
    'InvalidArgument',
    message,
    name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? '' },
  );

export const accessDenied = (message: string) => new OssError(403, 'AccessDenied', message);

export const notImplemented = (what: string) =>
  new OssError(501, 'NotImplemented', `${what} is not implemented by this test server.`);
