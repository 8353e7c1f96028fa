import type {
  GetSecretValueCommand,
  GetSecretValueCommandOutput,
} from '@aws-sdk/client-secrets-manager';
import { DfstoreError } from '../core/errors.ts';
import type { LogMethods } from '../observability/logger.ts';

/** Where the API token comes from; `token()` may hit the network (cached). */
export interface TokenSource {
  token(): Promise<string>;
}

/** The API token could not be read: the function cannot authenticate anyone (500, logged). */
export class TokenUnavailableError extends DfstoreError {
  override readonly name = 'TokenUnavailableError';
  override readonly code = 'ERR_TOKEN_UNAVAILABLE';
}

/** A token fixed at cold start (`DFSTORE_API_TOKEN`). */
export function staticTokenSource(token: string): TokenSource {
  return { token: async () => token };
}

/** The one call this source makes; a SecretsManagerClient satisfies it, tests pass a fake. */
export interface GetSecretValueClient {
  send(command: GetSecretValueCommand): Promise<GetSecretValueCommandOutput>;
}

export interface SecretTokenSourceOptions {
  readonly secretArn: string;
  /** Default: a SecretsManagerClient from the default region and credential chain. */
  readonly client?: GetSecretValueClient;
  /** How long a fetched token is used before asking again (default 5 min): rotation lag. */
  readonly ttlMs?: number;
  readonly now?: () => number;
  readonly logger?: Pick<LogMethods, 'warn'>;
}

/**
 * The token in a Secrets Manager secret (`DFSTORE_API_TOKEN_SECRET_ARN`): the secret string
 * itself, or its `token` field when it is a JSON object. Cached for `ttlMs`; concurrent callers
 * share one GetSecretValue. When a refresh fails the last token stays in use, so a Secrets
 * Manager outage does not lock every client out.
 */
export function secretTokenSource(options: SecretTokenSourceOptions): TokenSource {
  // The SDK loads on the first fetch (~100 ms): a function with a static token never needs it.
  let client = options.client;
  const ttlMs = options.ttlMs ?? 300_000;
  const now = options.now ?? Date.now;
  let cached: { token: string; at: number } | undefined;
  let inflight: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    try {
      const sdk = await import('@aws-sdk/client-secrets-manager');
      client ??= new sdk.SecretsManagerClient({});
      const output = await client.send(
        new sdk.GetSecretValueCommand({ SecretId: options.secretArn }),
      );
      const token = tokenOf(output.SecretString);
      cached = { token, at: now() };
      return token;
    } catch (error) {
      if (cached) {
        options.logger?.warn(
          { err: error instanceof TokenUnavailableError ? error.message : errorName(error) },
          'API token refresh failed; using the last token',
        );
        return cached.token;
      }
      if (error instanceof TokenUnavailableError) throw error;
      throw new TokenUnavailableError(`GetSecretValue failed: ${errorName(error)}`, {
        cause: error,
      });
    }
  }

  return {
    async token() {
      if (cached && now() - cached.at < ttlMs) return cached.token;
      inflight ??= fetchToken().finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
  };
}

function tokenOf(secret: string | undefined): string {
  const text = secret?.trim() ?? '';
  let token = text;
  if (text.startsWith('{')) {
    try {
      const field = (JSON.parse(text) as { token?: unknown }).token;
      token = typeof field === 'string' ? field : '';
    } catch {
      token = '';
    }
  }
  if (token === '') throw new TokenUnavailableError('the API token secret holds no token');
  return token;
}

/** The SDK error's name only: its message and metadata are not ours to log. */
function errorName(error: unknown): string {
  return (error as { name?: string } | undefined)?.name ?? 'Error';
}
