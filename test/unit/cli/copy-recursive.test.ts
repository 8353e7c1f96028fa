import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectMetadata } from '../../../lib/backends/object-backend.ts';
import { downloadTree } from '../../../lib/cli/commands/copy-recursive.ts';
import { parseDfsLocation, uploadKey } from '../../../lib/cli/locations.ts';
import type { CommandContext } from '../../../lib/cli/program.ts';
import type { DfstoreClient } from '../../../lib/client/dfstore-client.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dfstore-cli-unit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A client whose listing holds `keys` and that fails the test if anything is downloaded. */
function listingClient(keys: string[]): DfstoreClient {
  const objects: ObjectMetadata[] = keys.map((key) => ({
    key,
    contentLength: 1,
    etag: '"e"',
    lastModified: new Date(0),
  }));
  return {
    async *listAllObjects() {
      yield { objects, commonPrefixes: [] };
    },
    getObject: () => expect.fail('nothing may be downloaded'),
  } as unknown as DfstoreClient;
}

const ctx = {
  io: { stdout: process.stdout, stderr: { write: () => true, isTTY: false } },
  signal: new AbortController().signal,
} as unknown as CommandContext;

describe('cp -r download', () => {
  it.each(['p/../escape.txt', 'p/a/../../escape.txt', 'p/./x', 'p/a//b', 'p//abs'])(
    'refuses key %j (a foreign server could send it) before writing anything',
    async (bad) => {
      const client = listingClient(['p/ok.txt', bad]);
      const out = join(dir, 'out');
      await expect(
        downloadTree(client, ctx, { bucket: 'b', prefix: 'p/', dir: out, parallel: 2 }),
      ).rejects.toThrow(/refusing to download object key/);
      expect(await readdir(dir)).toEqual([]);
    },
  );
});

describe('dfs locations', () => {
  it('accepts a bucket alone for prefixes and appends the file name to directory-like keys', () => {
    expect(parseDfsLocation('dfs://bucket')).toEqual({ bucket: 'bucket', key: '' });
    expect(parseDfsLocation('dfs://bucket/')).toEqual({ bucket: 'bucket', key: '' });
    expect(parseDfsLocation('dfs://bucket/a%20b/')).toEqual({ bucket: 'bucket', key: 'a b/' });
    expect(() => parseDfsLocation('dfs:///key')).toThrow(
      'invalid url, e.g. dfs://bucket_name/object_key',
    );
    for (const dotted of ['dfs://b/a/../k', 'dfs://b/./k', 'dfs://b/a/%2E%2e/k']) {
      // WHATWG URL would resolve these to another key; they are refused instead.
      expect(() => parseDfsLocation(dotted)).toThrow('invalid url');
    }
    expect(parseDfsLocation('dfs://b/a..b/c.')).toEqual({ bucket: 'b', key: 'a..b/c.' });
    expect(uploadKey('', 'f.txt')).toBe('f.txt');
    expect(uploadKey('dir/', 'f.txt')).toBe('dir/f.txt');
    expect(uploadKey('exact-key', 'f.txt')).toBe('exact-key');
  });
});
