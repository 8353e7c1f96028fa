import { randomBytes } from 'node:crypto';
import { afterAll, inject } from 'vitest';
import { startFunctionHost } from '../../lib/local/function-host.ts';
import type { FunctionUrlHandler } from '../../lib/local/function-url.ts';
import { type Cluster, startCluster } from '../helpers/cluster.ts';
import { s3BackendAt } from '../helpers/cluster-probes.ts';
import '../helpers/provided-context.ts';
import { testDfstoreProtocol } from './dfstore-protocol.suite.ts';

/**
 * The Go-client conformance suite against the object API function (functions/objects.ts) on the
 * local function host, in front of one seed peer over the shared RGW. The Go client reaches a
 * function URL as `https://dfstore:TOKEN@host`: every request carries that Basic header here.
 * Objects above the inline limit cannot pass a function URL (they take redirects and upload
 * sessions, covered by objects-function.test.ts), so the suite leaves those out.
 */
const INLINE_LIMIT = 4 * 1024 * 1024;
const TOKEN = `protocol-${randomBytes(12).toString('hex')}`;
const s3 = inject('s3');
let cluster: Cluster | undefined;

testDfstoreProtocol('object API function over s3', async () => {
  cluster = await startCluster({
    name: 'objects-fn-protocol',
    backend: s3BackendAt(s3, s3.endpoint),
    seedPeers: 1,
    peers: 0,
  });
  const node = cluster.seedPeers[0];
  if (!node) throw new Error('no seed peer');
  const port = (url: string) => Number(new URL(url).port);
  Object.assign(process.env, {
    DFSTORE_BACKEND: JSON.stringify(s3BackendAt(s3, s3.endpoint)),
    DFSTORE_API_TOKEN: TOKEN,
    DFSTORE_INLINE_LIMIT: String(INLINE_LIMIT),
    DFSTORE_SEED_PEERS: JSON.stringify([
      {
        id: node.id,
        hostname: node.id,
        ip: '127.0.0.1',
        port: port(node.api),
        downloadPort: port(node.pieces),
      },
    ]),
    DFSTORE_LOG_LEVEL: 'warn',
  });
  const { handler } = (await import('../../functions/objects.ts')) as {
    handler: FunctionUrlHandler;
  };
  const host = await startFunctionHost({ handler, port: 0, name: 'dfstore-objects' });
  return {
    api: host.url,
    backendName: 's3',
    headers: { authorization: `Basic ${Buffer.from(`dfstore:${TOKEN}`).toString('base64')}` },
    inlineLimit: INLINE_LIMIT,
    close: () => host.close(),
  };
});

afterAll(async () => {
  await cluster?.dispose();
});
