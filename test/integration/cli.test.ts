import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackendObjectService } from '../../lib/api/backend-object-service.ts';
import { createApiApp } from '../../lib/api/create-app.ts';
import type { PutFormFields } from '../../lib/api/object-service.ts';
import { createFsBackend } from '../../lib/backends/fs-backend.ts';
import type { ObjectBackend } from '../../lib/backends/object-backend.ts';
import { formatDfsUrl } from '../../lib/core/dfs-url.ts';
import { patternStream, sha256OfStream } from '../helpers/streams.ts';

// The real `dfstore` CLI (node bin/dfstore.js) against the API app on the fs backend, on loopback.
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bucket = 'cli-test';
const MiB = 1024 * 1024;
let work: string;
let endpoint: string;
let backend: ObjectBackend;
let server: Server;
/** What the service saw, to check flags that only the server can observe. */
const seen: { puts: { key: string; form: PutFormFields; sizeHint?: number }[]; filters: string[] } =
  { puts: [], filters: [] };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'dfstore-cli-'));
  backend = createFsBackend({ name: 'fs', root: join(work, 'backend') });
  await backend.createBucket(bucket);
  const service = createBackendObjectService(backend, { spoolDir: work });
  const recording = {
    ...service,
    putObject: async (...args: Parameters<typeof service.putObject>) => {
      const [, key, upload] = args;
      await service.putObject(...args);
      seen.puts.push({ key, form: await upload.form(), sizeHint: upload.sizeHint });
    },
    getObject: async (...args: Parameters<typeof service.getObject>) => {
      seen.filters.push(args[2].filter ?? '');
      return service.getObject(...args);
    },
  };
  const app = createApiApp({ service: recording });
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      endpoint = `http://127.0.0.1:${info.port}`;
      resolve();
    }) as Server;
  });
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    server?.closeAllConnections();
    server ? server.close(() => resolve()) : resolve();
  });
  if (work) await rm(work, { recursive: true, force: true });
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node bin/dfstore.js …args` with DFSTORE_ENDPOINT pointing at the test server. */
function dfstore(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/dfstore.js', ...args], {
      cwd: repoRoot,
      env: { ...process.env, DFSTORE_ENDPOINT: endpoint, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function patternFile(name: string, size: number, seed = size + 1): Promise<string> {
  const path = join(work, name);
  await pipeline(patternStream(size, seed), createWriteStream(path));
  return path;
}

const sha256File = (path: string) => sha256OfStream(createReadStream(path));
const url = (key: string, inBucket = bucket) => formatDfsUrl({ bucket: inBucket, key });
const freshDir = async (name: string) => {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  return dir;
};

describe('dfstore cp: round trips', () => {
  it.each([
    ['0 B', 0],
    ['1 B', 1],
    ['5 MiB', 5 * MiB],
    ['64 MiB', 64 * MiB],
  ])('uploads and downloads %s byte for byte', async (_label, size) => {
    const source = await patternFile(`rt-${size}.bin`, size);
    const key = `round-trip/${size}.bin`;

    const up = await dfstore(['cp', source, url(key)]);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(
      new RegExp(`^upload object storage success, length: ${size} bytes cost: \\d+ ms\\n$`),
    );
    const put = seen.puts.find((p) => p.key === key);
    expect(put?.form).toEqual({ mode: 0, maxReplicas: 3 });
    // Streamed with a Content-Length (multipart overhead included), not chunked.
    expect(put?.sizeHint).toBeGreaterThan(size);

    const target = join(await freshDir(`rt-out-${size}`), 'copy.bin');
    const down = await dfstore(['cp', url(key), target]);
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(
      new RegExp(`^download object storage success, length: ${size} bytes cost: \\d+ ms\\n$`),
    );
    expect(await sha256File(target)).toBe(await sha256File(source));
    expect(await readdir(join(work, `rt-out-${size}`))).toEqual(['copy.bin']);
  });

  it.each(['with space.txt', 'a+b=c&d.txt', '日本語/ファイル 😀.bin'])(
    'keeps odd key %j intact, typed raw in the dfs:// URL',
    async (key) => {
      const source = await patternFile('odd.bin', 1000);
      const up = await dfstore(['cp', source, `dfs://${bucket}/${key}`]);
      expect(up.code).toBe(0);
      expect((await backend.headObject(bucket, key)).contentLength).toBe(1000);
      const stat = await dfstore(['stat', '--json', url(key)]);
      expect(JSON.parse(stat.stdout)).toMatchObject({ bucket, key, contentLength: 1000 });
      const target = join(await freshDir('odd-out'), 'odd.bin');
      expect((await dfstore(['cp', `dfs://${bucket}/${key}`, target])).code).toBe(0);
      expect(await sha256File(target)).toBe(await sha256File(source));
    },
  );

  it('sends --mode, --max-replicas and --filter on upload, and --filter on download', async () => {
    const source = await patternFile('flags.bin', 10);
    const flags = ['-m', '1', '--max-replicas', '5', '--filter', 'Expires&Signature'];
    expect((await dfstore(['cp', source, url('flags/k'), ...flags])).code).toBe(0);
    expect(seen.puts.find((p) => p.key === 'flags/k')?.form).toEqual({
      mode: 1,
      maxReplicas: 5,
      filter: 'Expires&Signature',
    });
    const target = join(await freshDir('flags-out'), 'k');
    expect((await dfstore(['cp', url('flags/k'), target, '--filter', 'X-Amz-Date'])).code).toBe(0);
    expect(seen.filters.at(-1)).toBe('X-Amz-Date');
  });

  it('fails a download of a missing object with exit 1 and leaves no file behind', async () => {
    const dir = await freshDir('missing-out');
    const run = await dfstore(['cp', url('no/such/object'), join(dir, 'x.bin')]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`Error: object ${url('no/such/object')} not found\n`);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('dfstore: upstream errors', () => {
  it.each([
    [
      ['cp', 'dfs://bucket-a/x', 'dfs://bucket-b/y'],
      'source and target url cannot both be dfs:// protocol',
    ],
    [['cp', './a', './b'], 'source and target url cannot both be local file path'],
    [['cp', 'dfs:///no-bucket', './b'], 'invalid url, e.g. dfs://bucket_name/object_key'],
    [['rm', './not-a-dfs-url'], 'invalid url, e.g. dfs://bucket_name/object_key'],
    [['rm', 'dfs://bucket-only'], 'invalid url, e.g. dfs://bucket_name/object_key'],
    [['cp', 'package.json', 'dfs://b/k', '-m', '2'], 'invalid Mode'],
    [['cp', 'package.json', 'dfs://b/k', '--max-replicas', '101'], 'invalid MaxReplicas'],
    [
      ['cp', 'package.json', 'dfs://b/k', '-e', '127.0.0.1:65004'],
      'invalid endpoint: parse "127.0.0.1:65004": invalid URI for request',
    ],
    [['rm', 'dfs://b/k', '-e', ''], 'dfstore requires parameter endpoint'],
  ])('%j → exit 1, "Error: %s"', async (args, message) => {
    const run = await dfstore(args);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')[0]?.startsWith(`Error: ${message}`)).toBe(true);
  });

  it('says why a cross-bucket dfs:// copy is refused', async () => {
    const run = await dfstore(['cp', 'dfs://bucket-a/x', 'dfs://bucket-b/y']);
    expect(run.stderr).toContain('server-side copy stays within one bucket');
  });

  it('reads the endpoint from DFSTORE_ENDPOINT; an empty one is refused', async () => {
    const run = await dfstore(['rm', 'dfs://b/k'], { DFSTORE_ENDPOINT: '' });
    expect(run).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error: dfstore requires parameter endpoint\n',
    });
  });
});

describe('dfstore rm, ls, stat, mb', () => {
  beforeAll(async () => {
    const source = await patternFile('small.bin', 3);
    for (const key of ['tree/a.txt', 'tree/b/c.txt', 'tree/b/d/e.txt', 'tree-sibling.txt']) {
      expect((await dfstore(['cp', source, url(key)])).code).toBe(0);
    }
  });

  it('rm removes the object and names key and bucket the right way round', async () => {
    const source = await patternFile('rm.bin', 3);
    await dfstore(['cp', source, url('to-remove.txt')]);
    const run = await dfstore(['rm', url('to-remove.txt')]);
    expect(run).toEqual({
      code: 0,
      stdout: `remove to-remove.txt in bucket ${bucket}\n`,
      stderr: '',
    });
    await expect(backend.headObject(bucket, 'to-remove.txt')).rejects.toThrow();
  });

  it('ls lists one level by default, with sub-prefixes as PRE', async () => {
    const run = await dfstore(['ls', url('tree/')]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\s+PRE tree\/b\/$/);
    expect(lines[1]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+3 tree\/a\.txt$/);
  });

  it('ls --recursive --json lists every key under the prefix', async () => {
    const run = await dfstore(['ls', '--recursive', '--json', url('tree/')]);
    expect(run.code).toBe(0);
    const listing = JSON.parse(run.stdout) as {
      commonPrefixes: string[];
      objects: { key: string }[];
    };
    expect(listing.commonPrefixes).toEqual([]);
    expect(listing.objects.map((o) => o.key)).toEqual([
      'tree/a.txt',
      'tree/b/c.txt',
      'tree/b/d/e.txt',
    ]);
  });

  it('ls of the bucket root shows top-level entries', async () => {
    const run = await dfstore(['ls', `dfs://${bucket}`, '--json']);
    const listing = JSON.parse(run.stdout) as {
      commonPrefixes: string[];
      objects: { key: string }[];
    };
    expect(listing.commonPrefixes).toContain('tree/');
    expect(listing.objects.map((o) => o.key)).toContain('tree-sibling.txt');
  });

  it('stat --json prints the metadata; a missing object exits 1', async () => {
    const run = await dfstore(['stat', '--json', url('tree/a.txt')]);
    expect(run.code).toBe(0);
    const stat = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(stat).toMatchObject({
      bucket,
      key: 'tree/a.txt',
      contentLength: 3,
      storageClass: 'STANDARD',
    });
    expect(stat.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(stat.digest).toMatch(/^md5:[0-9a-f]{32}$/);
    const missing = await dfstore(['stat', url('tree/none')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`Error: object ${url('tree/none')} not found\n`);
  });

  it('mb creates a bucket', async () => {
    const run = await dfstore(['mb', 'dfs://cli-made-bucket']);
    expect(run).toEqual({ code: 0, stdout: 'make bucket cli-made-bucket success\n', stderr: '' });
    expect(await backend.bucketExists('cli-made-bucket')).toBe(true);
  });

  it('cp dfs:// → dfs:// in one bucket is a server-side copy', async () => {
    const run = await dfstore(['cp', url('tree/a.txt'), url('copies/')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^copy object storage success, .* to dfs:\/\/cli-test\/copies\/a\.txt cost: \d+ ms\n$/,
    );
    const [source, copy] = await Promise.all([
      backend.headObject(bucket, 'tree/a.txt'),
      backend.headObject(bucket, 'copies/a.txt'),
    ]);
    expect(copy.digest).toBe(source.digest);
  });
});

describe('dfstore cp -r', () => {
  it('uploads a directory tree and downloads it back identically', async () => {
    const local = await freshDir('tree-src');
    const files: Record<string, number> = {
      'top.bin': 1000,
      'nested/one.bin': 70_000,
      'nested/deeper/empty.bin': 0,
      'nested/deeper/with space.bin': 5,
    };
    for (const [rel, size] of Object.entries(files)) {
      await mkdir(join(local, rel, '..'), { recursive: true });
      await pipeline(patternStream(size, size + 7), createWriteStream(join(local, rel)));
    }
    const up = await dfstore(['cp', '-r', local, url('recursive/')]);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(
      /^upload object storage success, objects: 4, length: 71005 bytes cost: \d+ ms\n$/,
    );
    const listed = await dfstore(['ls', '-r', '--json', url('recursive/')]);
    expect(
      (JSON.parse(listed.stdout) as { objects: { key: string }[] }).objects.map((o) => o.key),
    ).toEqual(
      Object.keys(files)
        .map((rel) => `recursive/${rel}`)
        .sort(),
    );

    const out = join(work, 'tree-out');
    const down = await dfstore(['cp', '-r', url('recursive'), out, '--parallel', '2']);
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(
      /^download object storage success, objects: 4, length: 71005 bytes/,
    );
    for (const rel of Object.keys(files)) {
      expect(await sha256File(join(out, rel))).toBe(await sha256File(join(local, rel)));
    }
  });

  it('downloads into an existing directory under the key’s basename', async () => {
    const dir = await freshDir('into-dir');
    await writeFile(join(work, 'named.txt'), 'named');
    await dfstore(['cp', join(work, 'named.txt'), url('into/')]);
    const run = await dfstore(['cp', url('into/named.txt'), dir]);
    expect(run.code).toBe(0);
    expect(await readFile(join(dir, 'named.txt'), 'utf8')).toBe('named');
  });
});
