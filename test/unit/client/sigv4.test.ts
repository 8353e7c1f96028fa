import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDfstoreClient } from '../../../lib/client/dfstore-client.ts';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCY',
};

/**
 * What Lambda does for an AWS_IAM function URL: recompute the signature from the request as
 * received (method, path, query, the signed headers, the payload) and compare.
 */
async function verify(req: IncomingMessage, body: Buffer): Promise<boolean> {
  const authorization = req.headers.authorization ?? '';
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) headers[name] = String(req.headers[name] ?? '');
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  const signer = new SignatureV4({
    service: 'lambda',
    region: 'eu-west-1',
    credentials,
    sha256: Hash.bind(null, 'sha256'),
  });
  const date = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13)}`,
  );
  const expected = await signer.sign(
    new HttpRequest({
      method: req.method,
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query,
      headers,
      body,
    }),
    { signingDate: date },
  );
  return expected.headers.authorization === authorization;
}

let server: Server;
let origin = '';
const seen: { method?: string; valid: boolean; basic: boolean }[] = [];

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const valid = await verify(req, Buffer.concat(chunks));
    seen.push({
      method: req.method,
      valid,
      basic: (req.headers.authorization ?? '').startsWith('Basic'),
    });
    if (!valid) {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ Message: 'signature mismatch' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ Name: 's3', Region: 'r', Endpoint: 'e' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('SigV4 signing for AWS_IAM function URLs', () => {
  it('signs GETs with a query and PUT bodies (streamed ones buffered) as the server recomputes them', async () => {
    const client = createDfstoreClient({
      endpoint: origin.replace('http://', 'http://user:ignored@'),
      sigv4: { region: 'eu-west-1', credentials },
    });
    await client.metadata();
    await client.listObjects('bucket', { prefix: 'a b/', limit: 10 });
    await client.putObject('bucket', 'dir/key.bin', Readable.from([Buffer.from('payload')]), {
      contentLength: 7,
    });
    await client.deleteObject('bucket', 'dir/key.bin');
    await client.close();
    expect(seen.map((entry) => [entry.method, entry.valid, entry.basic])).toEqual([
      ['GET', true, false],
      ['GET', true, false],
      ['PUT', true, false],
      ['DELETE', true, false],
    ]);
  });

  it('a wrong secret is refused by the verifier', async () => {
    seen.length = 0;
    const client = createDfstoreClient({
      endpoint: origin,
      sigv4: { region: 'eu-west-1', credentials: { ...credentials, secretAccessKey: 'wrong' } },
    });
    await expect(client.metadata()).rejects.toMatchObject({ status: 403 });
    await client.close();
    expect(seen).toEqual([{ method: 'GET', valid: false, basic: false }]);
  });

  it('needs a region: from a function URL host, else AWS_REGION', () => {
    const previous = [process.env.AWS_REGION, process.env.AWS_DEFAULT_REGION];
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    try {
      expect(() => createDfstoreClient({ endpoint: origin, sigv4: { credentials } })).toThrow(
        /region/,
      );
      const fromHost = createDfstoreClient({
        endpoint: 'https://abc123.lambda-url.ap-northeast-1.on.aws',
        sigv4: { credentials },
      });
      void fromHost.close();
    } finally {
      if (previous[0] !== undefined) process.env.AWS_REGION = previous[0];
      if (previous[1] !== undefined) process.env.AWS_DEFAULT_REGION = previous[1];
    }
  });
});
