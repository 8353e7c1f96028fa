import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { BackendConfigInput } from '../../lib/config/backend-config.ts';
import '../helpers/provided-context.ts';
import { type PeerDaemon, startPeerDaemon } from '../helpers/peer-daemon.ts';
import { walk } from '../helpers/temp-fs-backend.ts';
import { testDfstoreProtocol } from './dfstore-protocol.suite.ts';

/**
 * The Go-client conformance suite against a real daemon process. Its data dir and (for fs) its
 * backend root sit in one temp dir, so that anything written outside them shows up.
 */
function daemonFixture(backend: (dir: string) => BackendConfigInput, roots: string[]) {
  let daemon: PeerDaemon | undefined;
  let dir = '';
  return {
    setup: async () => {
      dir = await mkdtemp(join(tmpdir(), 'dfstore-protocol-daemon-'));
      roots.push(dir);
      daemon = await startPeerDaemon({ backend: backend(dir), dataDir: join(dir, 'peer') });
      const name = (backend(dir) as { name: 's3' | 'oss' | 'fs' }).name;
      return {
        api: daemon.api,
        backendName: name,
        close: async () => {
          await daemon?.stop();
        },
      };
    },
    dir: () => dir,
    dispose: async () => {
      await daemon?.dispose();
    },
  };
}

const roots: string[] = [];
const fs = daemonFixture((dir) => ({ name: 'fs', root: join(dir, 'backend') }), roots);
const s3 = daemonFixture(() => ({ name: 's3', forcePathStyle: true, ...inject('s3') }), roots);

testDfstoreProtocol('daemon over fs', fs.setup);
testDfstoreProtocol('daemon over s3', s3.setup);

describe('after the conformance runs', () => {
  it('wrote nothing outside the data dir and the backend root', async () => {
    for (const dir of roots) {
      expect((await readdir(dir)).filter((name) => !['peer', 'backend'].includes(name))).toEqual(
        [],
      );
    }
    const fsDir = fs.dir();
    expect(fsDir).not.toBe('');
    const everything = await walk(fsDir);
    expect(everything.some((path) => path.startsWith(join(fsDir, 'peer', 'tasks')))).toBe(true);
    expect(
      everything.every(
        (path) => path.startsWith(join(fsDir, 'peer')) || path.startsWith(join(fsDir, 'backend')),
      ),
    ).toBe(true);
  });
});

afterAll(async () => {
  await fs.dispose();
  await s3.dispose();
  await Promise.all(roots.map((dir) => rm(dir, { recursive: true, force: true })));
});
