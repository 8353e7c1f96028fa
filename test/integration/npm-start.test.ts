import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createDfstoreClient } from '../../lib/client/dfstore-client.ts';
import { readAll } from '../helpers/streams.ts';

// `npm start` (node bin/start.js) from the checkout, on free ports (DFSTORE_PORTS=ephemeral) so
// that it never collides with a developer's own cluster: the banner, the CLI against the
// printed peer, a second peer reading the first one's object, and Ctrl-C.
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const homes: string[] = [];
const running = new Set<ChildProcess>();

afterAll(async () => {
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(homes.map((home) => rm(home, { recursive: true, force: true })));
});

interface Started {
  readonly child: ChildProcess;
  readonly home: string;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
  /** Object API per node name, as the banner prints them. */
  readonly apis: ReadonlyMap<string, string>;
  readonly pieces: ReadonlyMap<string, string>;
}

async function npmStart(args: string[]): Promise<Started> {
  const home = await mkdtemp(join(tmpdir(), 'dfstore-npm-start-'));
  homes.push(home);
  const child = spawn(process.execPath, ['bin/start.js', ...args], {
    cwd: repoRoot,
    env: { ...process.env, DFSTORE_HOME: home, DFSTORE_PORTS: 'ephemeral' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  const collect = (chunk: Buffer) => {
    out += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  await expect.poll(() => out, { timeout: 60_000, interval: 100 }).toContain('dfstore is running');
  await expect.poll(() => out, { timeout: 5_000 }).toContain('npx dfstore cp');
  const apis = new Map<string, string>();
  const pieces = new Map<string, string>();
  const line = /^\s+((?:seed-)?peer-\d+)\s+object API (\S+)\s+piece server (\S+)$/gm;
  for (const [, name = '', api = '', piece = ''] of out.matchAll(line)) {
    apis.set(name, api);
    pieces.set(name, piece);
  }
  return { child, home, output: () => out, exited, apis, pieces };
}

async function stopWithCtrlC(started: Started): Promise<void> {
  started.child.kill('SIGINT');
  expect(await started.exited, started.output()).toBe(0);
  expect(started.output()).toContain('stopping');
}

/** `node bin/dfstore.js …args` against `endpoint`. */
function dfstore(endpoint: string, args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/dfstore.js', ...args], {
      cwd: repoRoot,
      env: { ...process.env, DFSTORE_ENDPOINT: endpoint },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm start', () => {
  it('runs manager, a seed peer and a peer; the CLI round-trips through the peer; Ctrl-C exits 0', async () => {
    const started = await npmStart([]);
    const out = started.output();
    expect(out).toMatch(/^\s+manager\s+http:\/\/127\.0\.0\.1:\d+$/m);
    expect([...started.apis.keys()]).toEqual(['seed-peer-1', 'peer-1']);
    expect(out).toContain(`fs under ${join(started.home, 'backend')}`);
    expect(out).toContain(join(started.home, 'logs'));
    const api = started.apis.get('peer-1') ?? '';
    expect(api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(out).toContain(`export DFSTORE_ENDPOINT=${api}`);

    const source = join(started.home, 'source.bin');
    const target = join(started.home, 'target.bin');
    const data = randomBytes(256 * 1024 + 7);
    await writeFile(source, data);
    expect(await dfstore(api, ['mb', 'dfs://start-bucket'])).toMatchObject({ code: 0 });
    const up = await dfstore(api, ['cp', source, 'dfs://start-bucket/dir/file.bin']);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    const down = await dfstore(api, ['cp', 'dfs://start-bucket/dir/file.bin', target]);
    expect(down.stderr).toBe('');
    expect(down.code).toBe(0);
    expect((await readFile(target)).equals(data)).toBe(true);

    // The object API function on its function host: 6 MiB (over its inline limit) goes up
    // through an upload session and comes back through a 307 to a presigned fs URL.
    const functionUrl = /^\s+objects\s+(http:\/\/dfstore:\S+@127\.0\.0\.1:\d+)\s/m.exec(out)?.[1];
    expect(functionUrl, out).toBeDefined();
    const big = randomBytes(6 * 1024 * 1024 + 3);
    await writeFile(source, big);
    const viaFunction = await dfstore(functionUrl ?? '', ['cp', source, 'dfs://start-bucket/big']);
    expect(viaFunction.stderr).toBe('');
    const back = await dfstore(functionUrl ?? '', ['cp', 'dfs://start-bucket/big', target]);
    expect(back.stderr).toBe('');
    expect((await readFile(target)).equals(big)).toBe(true);
    const noToken = functionUrl?.replace(/dfstore:[^@]+@/, '') ?? '';
    const refused = await dfstore(noToken, ['stat', 'dfs://start-bucket/big']);
    expect(refused.code).toBe(1);

    await stopWithCtrlC(started);
  });

  it('--seed-peers 2 --peers 2: an object PUT on peer-1 is readable from peer-2', async () => {
    const started = await npmStart(['--seed-peers', '2', '--peers', '2']);
    expect([...started.apis.keys()]).toEqual(['seed-peer-1', 'seed-peer-2', 'peer-1', 'peer-2']);
    const ports = [...started.apis.values(), ...started.pieces.values()];
    expect(new Set(ports).size).toBe(8);
    for (const pieces of started.pieces.values()) {
      expect((await fetch(`${pieces}/healthy`)).status).toBe(200);
    }

    const peer1 = createDfstoreClient({ endpoint: started.apis.get('peer-1') ?? '' });
    const peer2 = createDfstoreClient({ endpoint: started.apis.get('peer-2') ?? '' });
    try {
      const data = randomBytes(5 * 1024 * 1024 + 3);
      await peer1.createBucket('shared');
      await peer1.putObject('shared', 'k.bin', Readable.from([data]), { mode: 1 });
      const got = await peer2.getObject('shared', 'k.bin');
      expect((await readAll(got.body)).equals(data)).toBe(true);
    } finally {
      await peer1.close();
      await peer2.close();
    }

    await stopWithCtrlC(started);
  });
});
