import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PutUpload } from '../../lib/api/object-service.ts';
import { createFsBackend } from '../../lib/backends/fs-backend.ts';
import type { ObjectBackend } from '../../lib/backends/object-backend.ts';
import { BackendError } from '../../lib/core/errors.ts';
import { WriteMode } from '../../lib/core/write-mode.ts';
import { openPeerNode, type PeerNode } from '../../lib/peer/peer-node.ts';
import { readAll } from '../helpers/streams.ts';

const upload = (text: string, mode: WriteMode): PutUpload => ({
  body: Readable.from([Buffer.from(text)]),
  form: async () => ({ mode }),
});

describe('write modes when the backend fails', () => {
  let dir: string;
  let node: PeerNode;
  let backend: ObjectBackend;
  let failing = false;
  const bucket = 'modes-bucket';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dfstore-write-modes-'));
    const fs = createFsBackend({ name: 'fs', root: join(dir, 'backend') });
    // The real fs backend, with puts that fail while `failing` is set (an outage).
    backend = {
      ...fs,
      putObject: (...args) => {
        if (failing) {
          args[2].destroy();
          return Promise.reject(new BackendError('fs putObject failed: outage'));
        }
        return fs.putObject(...args);
      },
    };
    await backend.createBucket(bucket);
    node = await openPeerNode({
      dataDir: join(dir, 'peer'),
      backend,
      filter: '',
      maxReplicas: 3,
      writeBackBackoff: { baseMs: 20, capMs: 100 },
    });
  });
  afterAll(async () => {
    await node.close();
    await rm(dir, { recursive: true, force: true });
  });

  const read = async (key: string) =>
    (await readAll((await node.service.getObject(bucket, key, {})).body)).toString();

  it('a failed WriteBack is never served and keeps the acknowledged version it replaced', async () => {
    failing = true;
    await node.service.putObject(bucket, 'k', upload('acked v1', WriteMode.AsyncWriteBack));
    await expect(
      node.service.putObject(bucket, 'k', upload('failed v2', WriteMode.WriteBack)),
    ).rejects.toThrow('outage');
    expect(await read('k')).toBe('acked v1');

    failing = false;
    await expect
      .poll(async () => {
        const got = await backend.getObject(bucket, 'k').catch(() => undefined);
        return got ? (await readAll(got.body)).toString() : undefined;
      })
      .toBe('acked v1');
  });

  it('a failed first WriteBack leaves the key absent', async () => {
    failing = true;
    await expect(
      node.service.putObject(bucket, 'fresh', upload('never', WriteMode.WriteBack)),
    ).rejects.toThrow('outage');
    failing = false;
    await expect(node.service.headObject(bucket, 'fresh')).rejects.toThrow('Not Found');
  });
});
