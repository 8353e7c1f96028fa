import type {
  GetSecretValueCommand,
  GetSecretValueCommandOutput,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it, vi } from 'vitest';
import {
  type GetSecretValueClient,
  secretTokenSource,
  TokenUnavailableError,
} from '../../../lib/function/api-token.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:dfstore-api-token-AbCdEf';

/** A Secrets Manager client whose answers the test scripts, counting calls. */
function fakeSecrets(answers: (() => Promise<string>)[]) {
  const commands: GetSecretValueCommand[] = [];
  const client: GetSecretValueClient = {
    async send(command) {
      commands.push(command);
      const next = answers[Math.min(commands.length - 1, answers.length - 1)];
      if (!next) throw new Error('no answer scripted');
      const secret = await next();
      return { SecretString: secret, $metadata: {} } as GetSecretValueCommandOutput;
    },
  };
  return { client, commands };
}

const clock = () => {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

describe('secretTokenSource', () => {
  it('reads the secret once per TTL, asking for the configured ARN', async () => {
    const { client, commands } = fakeSecrets([async () => 'token-one', async () => 'token-two']);
    const time = clock();
    const source = secretTokenSource({ secretArn: ARN, client, ttlMs: 60_000, now: time.now });
    expect(await source.token()).toBe('token-one');
    time.advance(59_999);
    expect(await source.token()).toBe('token-one');
    expect(commands).toHaveLength(1);
    expect(commands[0]?.input).toEqual({ SecretId: ARN });
    time.advance(1);
    expect(await source.token()).toBe('token-two');
    expect(commands).toHaveLength(2);
  });

  it('shares one GetSecretValue between concurrent callers', async () => {
    let release!: (value: string) => void;
    const { client, commands } = fakeSecrets([
      () =>
        new Promise<string>((resolve) => {
          release = resolve;
        }),
    ]);
    const source = secretTokenSource({ secretArn: ARN, client });
    const waiting = Array.from({ length: 10 }, () => source.token());
    // The SDK's command class loads on the first fetch: wait for the one call to be sent.
    await vi.waitFor(() => expect(commands).toHaveLength(1));
    release('shared');
    expect(await Promise.all(waiting)).toEqual(Array(10).fill('shared'));
    expect(commands).toHaveLength(1);
  });

  it('takes the token field of a JSON secret', async () => {
    const { client } = fakeSecrets([async () => '{"token":"from-json","note":"rotated"}']);
    expect(await secretTokenSource({ secretArn: ARN, client }).token()).toBe('from-json');
  });

  it('keeps the last token when a refresh fails', async () => {
    const { client, commands } = fakeSecrets([
      async () => 'kept',
      async () => {
        throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
      },
    ]);
    const time = clock();
    const source = secretTokenSource({ secretArn: ARN, client, ttlMs: 1000, now: time.now });
    expect(await source.token()).toBe('kept');
    time.advance(5000);
    expect(await source.token()).toBe('kept');
    expect(commands).toHaveLength(2);
  });

  it('fails with TokenUnavailableError (a 500) when no token was ever read', async () => {
    const { client } = fakeSecrets([
      async () => {
        throw Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
      },
    ]);
    const error = await secretTokenSource({ secretArn: ARN, client })
      .token()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenUnavailableError);
    expect((error as TokenUnavailableError).statusCode).toBe(500);
    expect((error as Error).message).toBe('GetSecretValue failed: AccessDeniedException');
  });

  it('refuses an empty secret', async () => {
    const { client } = fakeSecrets([async () => '  ']);
    await expect(secretTokenSource({ secretArn: ARN, client }).token()).rejects.toThrow(
      TokenUnavailableError,
    );
  });
});
