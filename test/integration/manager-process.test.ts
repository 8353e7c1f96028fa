import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { onPath } from '../helpers/daemon.ts';

// The real `dfstore-manager` process: ready line, the routes over HTTP, a bad config, SIGTERM.
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const PDEATHSIG = onPath('setpriv') ? ['setpriv', '--pdeathsig', 'SIGKILL', '--'] : [];

interface ManagerProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<Record<string, unknown>>;
  readonly exited: Promise<number | null>;
  readonly output: () => string;
}

function spawnManager(configPath: string): ManagerProcess {
  const [command = process.execPath, ...args] = [
    ...PDEATHSIG,
    process.execPath,
    'bin/dfstore-manager.js',
    '--config',
    configPath,
  ];
  const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => resolve(code)),
  );
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      output += `${line}\n`;
      if (line.includes('"ready"')) resolve(JSON.parse(line) as Record<string, unknown>);
    });
    void exited.then((code) => reject(new Error(`manager exited (${code})\n${output}`)));
  });
  return { child, ready, exited, output: () => output };
}

let work: string;
let manager: ManagerProcess;
let base: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'dfstore-manager-'));
  const configPath = join(work, 'manager.yaml');
  await writeFile(
    configPath,
    stringify({
      logLevel: 'debug',
      listen: '127.0.0.1',
      port: 0,
      backend: { name: 'fs', root: join(work, 'backend') },
      seedPeers: [{ hostname: 'seed', ip: '127.0.0.1', port: 65004, downloadPort: 65002 }],
      peerConfig: { maxReplicas: 2, refreshInterval: '30s' },
    }),
  );
  manager = spawnManager(configPath);
  const ready = await manager.ready;
  base = String(ready.manager);
});

afterAll(async () => {
  if (manager && manager.child.exitCode === null) {
    manager.child.kill('SIGKILL');
    await manager.exited;
  }
  await rm(work, { recursive: true, force: true });
});

describe('dfstore-manager process', () => {
  it('prints a JSON ready line with its real port on 127.0.0.1', () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(base).not.toMatch(/:0$/);
  });

  it('serves health, object storage, seed peers and peer config', async () => {
    expect(await (await fetch(`${base}/healthy`)).json()).toBe('OK');
    expect(await (await fetch(`${base}/api/v1/object-storage`)).json()).toMatchObject({
      name: 'fs',
      region: 'local',
      s3ForcePathStyle: false,
    });
    expect(await (await fetch(`${base}/api/v1/seed-peers`)).json()).toEqual([
      {
        id: 'seed-127.0.0.1-65004',
        hostname: 'seed',
        ip: '127.0.0.1',
        port: 65004,
        downloadPort: 65002,
        state: 'active',
      },
    ]);
    expect(await (await fetch(`${base}/api/v1/peer-config`)).json()).toMatchObject({
      maxReplicas: 2,
      refreshInterval: 30,
    });
  });

  it('creates, lists and deletes a bucket over HTTP', async () => {
    const created = await fetch(`${base}/api/v1/buckets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'models' }),
    });
    expect(created.status).toBe(200);
    const list = (await (await fetch(`${base}/api/v1/buckets`)).json()) as { Name: string }[];
    expect(list.map((b) => b.Name)).toEqual(['models']);
    expect((await fetch(`${base}/api/v1/buckets/models`, { method: 'DELETE' })).status).toBe(200);
    const missing = await fetch(`${base}/api/v1/buckets/models`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'ERR_BUCKET_NOT_FOUND' });
  });

  it('exits 0 on SIGTERM', async () => {
    manager.child.kill('SIGTERM');
    expect(await manager.exited).toBe(0);
    expect(manager.output()).toContain('"stopped"');
  });

  it('exits 2 naming the bad key of a bad config', async () => {
    const configPath = join(work, 'bad.yaml');
    await writeFile(configPath, 'port: 99999\n');
    const bad = spawnManager(configPath);
    bad.ready.catch(() => {});
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toContain('port: must be ≤ 65535');
  });
});
