import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { inject } from 'vitest';
import { createApiApp } from '../../lib/api/create-app.ts';
import { createBackend } from '../../lib/backends/create-backend.ts';
import type { BackendConfigInput } from '../../lib/config/backend-config.ts';
import { openPeerNode } from '../../lib/peer/peer-node.ts';
import '../helpers/provided-context.ts';
import { type DfstoreProtocolFixture, testDfstoreProtocol } from './dfstore-protocol.suite.ts';

/** A peer node (cache + write-back journal + backend) serving the dfstore API on 127.0.0.1. */
async function servePeerNode(
  backendConfig: (dir: string) => BackendConfigInput,
): Promise<DfstoreProtocolFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'dfstore-protocol-peer-'));
  const backend = await createBackend(backendConfig(dir));
  const node = await openPeerNode({
    dataDir: join(dir, 'peer'),
    backend,
    filter: 'Expires&Signature&ns',
    maxReplicas: 3,
  });
  const app = createApiApp({ service: node.service });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    api: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    backendName: backend.name,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await node.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

testDfstoreProtocol('peer node over fs', () =>
  servePeerNode((dir) => ({ name: 'fs', root: join(dir, 'backend') })),
);

testDfstoreProtocol('peer node over s3', () =>
  servePeerNode(() => ({ name: 's3', forcePathStyle: true, ...inject('s3') })),
);
