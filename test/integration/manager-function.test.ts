import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type FunctionHost, startFunctionHost } from '../../lib/local/function-host.ts';
import type { FunctionUrlHandler } from '../../lib/local/function-url.ts';
import { createManagerClient } from '../../lib/peer/manager-client.ts';

// functions/manager.ts, the manager Lambda handler, served through the local function host on
// 127.0.0.1 and driven by the peers' real manager client and plain fetch: in-process (the module
// imported fresh under a stubbed environment) and as the process `npm start` runs.
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const seedPeer = {
  id: 'seed-1',
  hostname: 'seed-1',
  ip: '127.0.0.1',
  port: 65021,
  downloadPort: 65041,
};

let work: string;
let env: Record<string, string>;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'dfstore-manager-function-'));
  env = {
    DFSTORE_BACKEND: JSON.stringify({ name: 'fs', root: join(work, 'backend') }),
    DFSTORE_SEED_PEERS: JSON.stringify([seedPeer]),
    DFSTORE_MAX_REPLICAS: '2',
    DFSTORE_FILTER: 'Expires&Signature',
    DFSTORE_REFRESH_INTERVAL: '45s',
    DFSTORE_LOG_LEVEL: 'warn',
  };
});
afterAll(() => rm(work, { recursive: true, force: true }));

/** A cold start: functions/manager.ts evaluated anew under `variables`. */
async function loadHandler(variables: Record<string, string>): Promise<FunctionUrlHandler> {
  vi.resetModules();
  for (const [name, value] of Object.entries(variables)) vi.stubEnv(name, value);
  try {
    const module = await import('../../functions/manager.ts');
    return module.handler;
  } finally {
    vi.unstubAllEnvs();
  }
}

describe('the manager function in-process', () => {
  let host: FunctionHost | undefined;
  afterEach(async () => {
    await host?.close();
    host = undefined;
  });

  it('serves seed peers, peer config and object storage to the peer-side manager client', async () => {
    host = await startFunctionHost({ handler: await loadHandler(env), name: 'manager', port: 0 });
    const client = createManagerClient({ netAddrs: [host.url] });
    try {
      const snapshot = await client.refreshNow();

      expect(snapshot?.seedPeers).toEqual([
        {
          id: 'seed-1',
          hostname: 'seed-1',
          objectApi: 'http://127.0.0.1:65021',
          pieces: 'http://127.0.0.1:65041',
        },
      ]);
      expect(snapshot?.peerConfig).toEqual({
        filter: 'Expires&Signature',
        maxReplicas: 2,
        refreshIntervalMs: 45_000,
      });
      expect(snapshot?.objectStorage).toMatchObject({ name: 'fs' });
    } finally {
      client.close();
    }
  });

  it('creates, lists, reads and deletes buckets; errors keep their status and JSON', async () => {
    host = await startFunctionHost({ handler: await loadHandler(env), name: 'manager', port: 0 });
    const buckets = `${host.url}/api/v1/buckets`;

    const created = await fetch(buckets, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'fn-bucket' }),
    });
    expect(created.status).toBe(200);
    expect(created.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);

    const listed = await fetch(buckets);
    expect(listed.status).toBe(200);
    expect(await listed.json()).toEqual([{ Name: 'fn-bucket', CreateAt: expect.any(String) }]);
    expect((await fetch(`${buckets}/fn-bucket`)).status).toBe(200);

    const bad = await fetch(buckets, { method: 'POST', body: 'not json' });
    expect(bad.status).toBe(422);
    expect(await bad.json()).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });

    expect((await fetch(`${buckets}/fn-bucket`, { method: 'DELETE' })).status).toBe(200);
    const gone = await fetch(`${buckets}/fn-bucket`);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toEqual({
      errors: 'bucket fn-bucket not found',
      code: 'ERR_BUCKET_NOT_FOUND',
    });
  });

  it.each([
    ['DFSTORE_MAX_REPLICAS', 'lots'],
    ['DFSTORE_BACKEND', '{"name":"fs"'],
    ['DFSTORE_SEED_PEERS', '[{"hostname":"seed-1"}]'],
  ])('fails the init naming a bad %s', async (name, value) => {
    await expect(loadHandler({ ...env, [name]: value })).rejects.toThrow(name);
  });
});

describe('the manager function behind bin/dfstore-function-host.js', () => {
  const children = new Set<ChildProcess>();
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
  });

  function startHost(variables: Record<string, string>) {
    const child = spawn(
      process.execPath,
      ['bin/dfstore-function-host.js', '--handler', 'functions/manager.ts', '--port', '0'],
      { cwd: repoRoot, env: { ...process.env, ...variables }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.add(child);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        children.delete(child);
        resolve(code);
      }),
    );
    const lines = () =>
      stderr
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    return { child, exited, stderr: () => stderr, lines };
  }

  it('logs JSON per request with the Lambda request id and the cold-start flag; SIGTERM exits 0', async () => {
    const host = startHost({ ...env, DFSTORE_LOG_LEVEL: 'info' });
    await expect
      .poll(() => host.lines().find((line) => line.msg === 'ready'), { timeout: 30_000 })
      .toBeDefined();
    const url = String(host.lines().find((line) => line.msg === 'ready')?.url);

    const first = await fetch(`${url}/api/v1/peer-config`);
    const second = await fetch(`${url}/api/v1/seed-peers`);
    expect([first.status, second.status]).toEqual([200, 200]);

    const requestLine = (id: string | null) =>
      host.lines().find((line) => line.msg === 'request' && line.requestId === id);
    await expect.poll(() => requestLine(second.headers.get('x-amzn-requestid'))).toBeDefined();
    expect(requestLine(first.headers.get('x-amzn-requestid'))).toMatchObject({
      role: 'manager-function',
      coldStart: true,
      route: expect.any(String),
      status: 200,
    });
    expect(requestLine(second.headers.get('x-amzn-requestid'))).toMatchObject({ coldStart: false });

    host.child.kill('SIGTERM');
    expect(await host.exited).toBe(0);
  });

  it('exits 2 naming the variable when the function config is bad', async () => {
    const host = startHost({ ...env, DFSTORE_REFRESH_INTERVAL: 'whenever' });
    expect(await host.exited).toBe(2);
    expect(host.stderr()).toContain('DFSTORE_REFRESH_INTERVAL');
  });
});
