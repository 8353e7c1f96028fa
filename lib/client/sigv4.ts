import type { Readable } from 'node:stream';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

/** Static credentials or a provider of them (the SDK's shapes). */
export type SigV4Credentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];

/** Signs one request: returns the headers to add (Authorization, X-Amz-Date, …). */
export type RequestSigner = (request: {
  readonly method: string;
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body?: Buffer | string;
}) => Promise<Record<string, string>>;

export interface SigV4Options {
  /** Default: from the function URL host (`<id>.lambda-url.<region>.on.aws`), else AWS_REGION. */
  readonly region?: string;
  /** Default: the AWS default credential chain (env, profile, SSO, instance/task role). */
  readonly credentials?: SigV4Credentials;
  /** Default `lambda` (function URLs with AWS_IAM auth). */
  readonly service?: string;
}

/**
 * SigV4 for an object API function URL with `AWS_IAM` auth (DESIGN.md §5). Lambda checks the
 * payload hash too (an unsigned payload is refused), so bodies are signed whole: IAM-mode
 * bodies stay under the function's inline limit, and larger files take an upload session.
 */
export function createSigV4Signer(endpoint: URL, options: SigV4Options = {}): RequestSigner {
  const region =
    options.region ??
    /\.lambda-url\.([a-z0-9-]+)\.on\.aws$/.exec(endpoint.hostname)?.[1] ??
    process.env.AWS_REGION ??
    process.env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new Error('SigV4 needs a region: use a function URL endpoint or set AWS_REGION');
  }
  const signer = new SignatureV4({
    service: options.service ?? 'lambda',
    region,
    credentials: options.credentials ?? defaultProvider(),
    sha256: Hash.bind(null, 'sha256'),
  });
  return async ({ method, url, headers, body }) => {
    const query: Record<string, string | string[]> = {};
    for (const [name, value] of url.searchParams) {
      const previous = query[name];
      query[name] =
        previous === undefined
          ? value
          : [...(Array.isArray(previous) ? previous : [previous]), value];
    }
    const signed = await signer.sign(
      new HttpRequest({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port ? Number(url.port) : undefined,
        path: url.pathname,
        query,
        headers: { ...headers, host: url.host },
        body,
      }),
    );
    const added: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers)) {
      if (headers[name] === undefined && name !== 'host') added[name] = value;
    }
    return added;
  };
}

/** Reads a request body into memory for signing, refusing more than `limit` bytes. */
export async function bufferBody(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      body.destroy();
      throw new Error(`a SigV4-signed body is limited to ${limit} bytes (use an upload session)`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}
