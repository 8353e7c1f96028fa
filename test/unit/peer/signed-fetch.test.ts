import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { createManagerFetch } from '../../../lib/peer/signed-fetch.ts';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret-for-tests' };

/** Records what would go on the wire instead of sending it. */
function recorder() {
  const calls: { url: string; headers: Record<string, string> }[] = [];
  const base = async (input: string, init?: RequestInit) => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value;
    });
    calls.push({ url: input, headers });
    return new Response('{}', { status: 200 });
  };
  return { calls, base };
}

describe('the manager fetch', () => {
  it('signs requests to a function URL with SigV4 for lambda in the URL’s region', async () => {
    const { calls, base } = recorder();
    const managerFetch = createManagerFetch({ credentials }, base);
    const url = 'https://abc123xyz.lambda-url.eu-west-1.on.aws/api/v1/seed-peers';
    await managerFetch(url, { headers: { accept: 'application/json' } });
    const sent = calls[0];
    expect(sent?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/,
    );
    // What Lambda does: recompute from the request as received, and compare.
    const amzDate = sent?.headers['x-amz-date'] ?? '';
    const signer = new SignatureV4({
      service: 'lambda',
      region: 'eu-west-1',
      credentials,
      sha256: Hash.bind(null, 'sha256'),
    });
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(sent?.headers.authorization ?? '')?.[1];
    const headers: Record<string, string> = {};
    for (const name of signedHeaders?.split(';') ?? []) {
      headers[name] = name === 'host' ? new URL(url).host : (sent?.headers[name] ?? '');
    }
    const expected = await signer.sign(
      new HttpRequest({
        method: 'GET',
        protocol: 'https:',
        hostname: new URL(url).hostname,
        path: '/api/v1/seed-peers',
        headers,
      }),
      {
        signingDate: new Date(
          `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13)}`,
        ),
      },
    );
    expect(expected.headers.authorization).toBe(sent?.headers.authorization);
  });

  it('leaves other managers (a local one) unsigned', async () => {
    const { calls, base } = recorder();
    await createManagerFetch({ credentials }, base)('http://127.0.0.1:65003/api/v1/peer-config');
    expect(calls[0]?.headers.authorization).toBeUndefined();
  });
});
