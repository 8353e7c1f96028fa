import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { createFsBackend } from '../../lib/backends/fs-backend.ts';
import { createFsPresignApp } from '../../lib/backends/fs-presign-app.ts';
import { testMultipartUploads } from './multipart.contract.ts';
import { type BackendFixture, testObjectBackend } from './object-backend.contract.ts';

const secret = 'contract-test-secret-0123456789';

testObjectBackend('fs', fsFixture);
testMultipartUploads('fs', fsFixture);

async function fsFixture(): Promise<BackendFixture> {
  const root = await mkdtemp(join(tmpdir(), 'dfstore-fs-contract-'));
  // The presign app needs the backend and the backend needs the server's URL: bind late.
  let fetchApp: ((request: Request) => Response | Promise<Response>) | undefined;
  const server = await listen(
    (request) => fetchApp?.(request) ?? new Response(null, { status: 503 }),
  );
  const backend = createFsBackend({ name: 'fs', root, presign: { baseUrl: server.url, secret } });
  fetchApp = createFsPresignApp(backend, { secret }).fetch;
  const run = randomBytes(4).toString('hex');
  let buckets = 0;
  return {
    backend,
    async newBucket() {
      const bucket = `fs-contract-${run}-${++buckets}`;
      await backend.createBucket(bucket);
      return bucket;
    },
    async close() {
      await server.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Serves `fetch` on an ephemeral 127.0.0.1 port. */
function listen(
  fetch: (request: Request) => Response | Promise<Response>,
): Promise<{ url: string; close(): Promise<void> }> {
  return new Promise((resolve) => {
    const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            (server as Server).closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
