import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, expect, it } from 'vitest';
import { createDfstoreClient } from '../../lib/client/dfstore-client.ts';
import { readAll } from '../helpers/streams.ts';

let home = '';
afterAll(async () => {
  if (home) await rm(home, { recursive: true, force: true });
});

it('npm start runs the local deployment, serves the API, and stops cleanly on Ctrl-C', async () => {
  home = await mkdtemp(join(tmpdir(), 'dfstore-npm-start-'));
  const child = spawn(process.execPath, ['bin/start.js'], {
    // Port 0: the test must not collide with a developer's own `npm start`.
    env: { ...process.env, DFSTORE_HOME: home, DFSTORE_API_PORT: '0', DFSTORE_PIECE_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await expect.poll(() => out, { timeout: 30_000, interval: 100 }).toContain('dfstore is running');
  const api = /object API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
  expect(api).toBeDefined();

  const client = createDfstoreClient({ endpoint: api ?? '' });
  await client.createBucket('start-bucket');
  await client.putObject('start-bucket', 'hello.txt', Readable.from([Buffer.from('hello')]), {
    mode: 1,
  });
  const got = await client.getObject('start-bucket', 'hello.txt');
  expect((await readAll(got.body)).toString()).toBe('hello');
  await client.close();

  child.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(out).toContain('stopping');
});
