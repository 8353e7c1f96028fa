import { createSigV4Signer, type SigV4Options } from '../client/sigv4.ts';
import type { FetchLike } from './manager-client.ts';

/** A Lambda function URL host: `<id>.lambda-url.<region>.on.aws`. */
const FUNCTION_URL_HOST = /\.lambda-url\.[a-z0-9-]+\.on\.aws$/;

/**
 * `fetch` for the manager client: requests to a function URL (the manager function's URL has
 * AWS_IAM auth, DESIGN.md §6) are signed with SigV4 from the default credential chain (the ECS
 * task role on AWS); any other origin (a local manager) is fetched as is. Manager requests are
 * bodiless GETs, so signing needs no buffering.
 */
export function createManagerFetch(
  options: SigV4Options & { readonly timeoutMs?: number } = {},
  base: FetchLike = fetch,
): FetchLike {
  const signers = new Map<string, ReturnType<typeof createSigV4Signer>>();
  return async (input, request) => {
    // Each request gives up after timeoutMs (5 s), whoever aborts it otherwise.
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 5_000);
    const signal = request?.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    const init = { ...request, signal };
    const url = new URL(input);
    if (!FUNCTION_URL_HOST.test(url.hostname)) return base(input, init);
    let sign = signers.get(url.origin);
    if (!sign) {
      sign = createSigV4Signer(url, options);
      signers.set(url.origin, sign);
    }
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const signed = await sign({ method: init?.method ?? 'GET', url, headers });
    return base(input, { ...init, headers: { ...headers, ...signed } });
  };
}
