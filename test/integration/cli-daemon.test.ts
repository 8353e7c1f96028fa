import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, type ExpectStatic, expect, it } from 'vitest';
import { createFsBackend } from '../../lib/backends/fs-backend.ts';
import type { ObjectBackend } from '../../lib/backends/object-backend.ts';
import { formatDfsUrl } from '../../lib/core/dfs-url.ts';
import { type PeerDaemon, startPeerDaemon } from '../helpers/peer-daemon.ts';
import { sha256OfStream } from '../helpers/streams.ts';

// The real `dfstore` CLI (node bin/dfstore.js) against a real peer daemon process
// (node bin/dfstore-daemon.js) on the embedded fs backend, on 127.0.0.1.
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const bucket = 'cli-daemon';
let work: string;
let daemon: PeerDaemon;
/** A second view of the daemon's backend directory, to see what has reached the backend. */
let backend: ObjectBackend;
/** The 1 GiB source, generated while the small round trips run. */
let bigSource: Promise<SourceFile>;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'dfstore-cli-daemon-'));
  const backendRoot = join(work, 'backend');
  daemon = await startPeerDaemon({
    name: 'cli-daemon',
    backend: { name: 'fs', root: backendRoot },
  });
  backend = createFsBackend({ name: 'fs', root: backendRoot });
  const made = await dfstore(['mb', `dfs://${bucket}`]);
  expect(made.stderr).toBe('');
  expect(made.code).toBe(0);
  bigSource = generateFile('source-1GiB.bin', GiB);
  bigSource.catch(() => {}); // awaited by the 1 GiB tests, which report a failure
});

afterAll(async () => {
  await daemon?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node bin/dfstore.js …args` against the daemon's object API. */
function dfstore(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/dfstore.js', ...args], {
      cwd: repoRoot,
      env: { ...process.env, DFSTORE_ENDPOINT: daemon.api },
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

interface SourceFile {
  readonly path: string;
  readonly size: number;
  /** sha256 hex of the bytes written, hashed as they streamed to disk. */
  readonly sha256: string;
  /** md5 hex of the same bytes: the fs backend's ETag, which it computes from what it stored. */
  readonly md5: string;
}

/**
 * Streams `size` bytes to a file: a random 1 MiB block, each copy stamped with its index (fast
 * enough for 1 GiB, no two blocks alike). Never holds more than one block.
 */
async function generateFile(name: string, size: number): Promise<SourceFile> {
  const path = join(work, name);
  const block = randomBytes(MiB);
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  async function* chunks() {
    for (let offset = 0, index = 0; offset < size; offset += MiB, index++) {
      const chunk = Buffer.from(block.subarray(0, Math.min(MiB, size - offset)));
      if (chunk.length >= 4) chunk.writeUInt32LE(index, 0);
      sha256.update(chunk);
      md5.update(chunk);
      yield chunk;
    }
  }
  await pipeline(chunks(), createWriteStream(path));
  return { path, size, sha256: sha256.digest('hex'), md5: md5.digest('hex') };
}

const url = (key: string) => formatDfsUrl({ bucket, key });
const sha256File = (path: string) => sha256OfStream(createReadStream(path, { highWaterMark: MiB }));

/**
 * `cp -m <mode>` up, then `cp` down into a fresh file, compared by sha256. In mode 1 (WriteBack)
 * the backend must hold the bytes by the time the CLI returns.
 */
async function roundTrip(expect: ExpectStatic, source: SourceFile, mode: 0 | 1): Promise<void> {
  const key = `round-trip/mode-${mode}/${source.size}.bin`;

  const up = await dfstore(['cp', '-m', String(mode), source.path, url(key)]);
  expect(up.stderr).toBe('');
  expect(up.code).toBe(0);
  expect(up.stdout).toMatch(
    new RegExp(`^upload object storage success, length: ${source.size} bytes cost: \\d+ ms\\n$`),
  );
  if (mode === 1) {
    // Without reading 1 GiB back: the fs backend's ETag is the md5 of the bytes it stored.
    expect(await backend.headObject(bucket, key)).toMatchObject({
      contentLength: source.size,
      etag: `"${source.md5}"`,
    });
  }

  const target = join(work, `download-${mode}-${source.size}.bin`);
  try {
    const down = await dfstore(['cp', url(key), target]);
    expect(down.stderr).toBe('');
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(
      new RegExp(
        `^download object storage success, length: ${source.size} bytes cost: \\d+ ms\\n$`,
      ),
    );
    expect(await sha256File(target)).toBe(source.sha256);
  } finally {
    await rm(target, { force: true });
  }
}

const SMALL = [
  { label: '0 B', size: 0 },
  { label: '1 B', size: 1 },
  { label: '5 MiB', size: 5 * MiB },
];

// Small objects in both modes at once: each run is mostly CLI start-up, two cores share them.
describe.concurrent('dfstore cp through the daemon, small objects', () => {
  for (const mode of [0, 1] as const) {
    for (const { label, size } of SMALL) {
      it(`round-trips ${label} byte for byte in mode ${mode}`, async ({ expect }) => {
        const source = await generateFile(`source-${mode}-${size}.bin`, size);
        try {
          await roundTrip(expect, source, mode);
        } finally {
          await rm(source.path, { force: true });
        }
      });
    }
  }
});

describe('dfstore cp through the daemon, 1 GiB', () => {
  let source: SourceFile;
  beforeAll(async () => {
    source = await bigSource;
  });
  afterAll(async () => {
    if (source) await rm(source.path, { force: true });
  });

  // Mode 1 first: mode 0's write-back of 1 GiB, which runs after the ack, then overlaps only
  // the download that follows it instead of the next upload as well.
  it.each([1, 0] as const)('round-trips 1 GiB byte for byte in mode %i', async (mode) => {
    await roundTrip(expect, source, mode);
  });
});

describe('dfstore cp of a missing object', () => {
  it('exits 1 naming the object and leaves no file behind', async () => {
    const dir = join(work, 'missing-out');
    await mkdir(dir, { recursive: true });
    const missing = url('no/such/object.bin');

    const run = await dfstore(['cp', missing, join(dir, 'object.bin')]);

    expect(run).toEqual({ code: 1, stdout: '', stderr: `Error: object ${missing} not found\n` });
    expect(await readdir(dir)).toEqual([]);
  });
});
