import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, type ClientRequest, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { disposeAllPeerDaemons, startPeerDaemon } from '../helpers/peer-daemon.ts';

// Start-up and shutdown of the real daemon process: graceful SIGTERM with a request in flight,
// the bounded drain, and a bad config.
const KiB = 1024;
let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'dfstore-daemon-lifecycle-'));
});
afterEach(() => disposeAllPeerDaemons());
afterAll(() => rm(work, { recursive: true, force: true }));

const BOUNDARY = 'dfstore-test-boundary';

/**
 * A multipart PUT whose file part the test writes chunk by chunk: a client on a slow link.
 * `response` resolves with the status, or with the error if the server drops the connection
 * (never rejects: the test may look at it long after it settled).
 */
function slowPut(
  url: string,
  size: number,
): {
  req: ClientRequest;
  response: Promise<number | Error | undefined>;
  /** The TCP connection is up (the daemon has it, not just the kernel's backlog). */
  connected: Promise<void>;
  finish(): void;
} {
  const head =
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="mode"\r\n\r\n0\r\n` +
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="slow.bin"\r\n` +
    'Content-Type: application/octet-stream\r\n\r\n';
  const tail = `\r\n--${BOUNDARY}--\r\n`;
  const req = request(url, {
    method: 'PUT',
    agent: new Agent({ keepAlive: false }),
    headers: {
      'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
      'content-length': Buffer.byteLength(head) + size + Buffer.byteLength(tail),
    },
  });
  const response = new Promise<number | Error | undefined>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', resolve);
  });
  const connected = new Promise<void>((resolve) =>
    req.once('socket', (socket) => socket.once('connect', () => setTimeout(resolve, 300))),
  );
  req.write(head);
  return { req, response, connected, finish: () => req.end(tail) };
}

/** Resolves once new connections to `url` are refused (a loaded machine may take a moment). */
async function refusing(url: string): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(50)) {
    const refused = await fetch(url, { signal: AbortSignal.timeout(1_000) }).then(
      async (res) => {
        await res.arrayBuffer();
        return false;
      },
      () => true,
    );
    if (refused) return;
  }
  throw new Error(`${url} still accepts connections`);
}

describe('dfstore-daemon lifecycle', () => {
  it('on SIGTERM refuses new connections, lets an in-flight upload finish, then exits 0', async () => {
    const daemon = await startPeerDaemon({ backend: { name: 'fs', root: join(work, 'b1') } });
    await fetch(`${daemon.api}/buckets/lifecycle`, { method: 'POST' });
    const url = `${daemon.api}/buckets/lifecycle/objects/slow.bin`;
    const data = randomBytes(1024 * KiB);
    const upload = slowPut(url, data.length);
    upload.req.write(data.subarray(0, 256 * KiB));
    await upload.connected;

    const stopping = daemon.stop('SIGTERM');
    await refusing(`${daemon.api}/healthy`);
    for (let offset = 256 * KiB; offset < data.length; offset += 256 * KiB) {
      upload.req.write(data.subarray(offset, offset + 256 * KiB));
      await sleep(150);
    }
    upload.finish();

    expect(await upload.response).toBe(200);
    expect(await stopping).toEqual({ code: 0, signal: null });
    const log = await daemon.logTail(200);
    expect(log).toMatch(/"msg":"shutting down: draining requests"/);
    expect(log).toMatch(/"clean":true,"msg":"stopped"/);

    await daemon.restart();
    const got = await fetch(url);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
  });

  it('cuts requests still running after shutdownTimeout and still exits 0', async () => {
    const daemon = await startPeerDaemon({
      backend: { name: 'fs', root: join(work, 'b2') },
      extraConfig: { shutdownTimeout: '1s' },
    });
    await fetch(`${daemon.api}/buckets/lifecycle`, { method: 'POST' });
    const upload = slowPut(`${daemon.api}/buckets/lifecycle/objects/stalled.bin`, 1024 * KiB);
    upload.req.write(randomBytes(64 * KiB));
    await upload.connected;

    const started = Date.now();
    const status = await daemon.stop('SIGTERM');

    expect(status).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(await upload.response).toMatchObject({ code: 'ECONNRESET' });
    expect(await daemon.logTail(100)).toMatch(/requests still running were cut off/);
    // The half-written object never became visible.
    await daemon.restart();
    expect((await fetch(`${daemon.api}/buckets/lifecycle/objects/stalled.bin`)).status).toBe(404);
  });

  it('keeps its ports across restart()', async () => {
    const daemon = await startPeerDaemon({ backend: { name: 'fs', root: join(work, 'b3') } });
    const { api, pieces, pid } = daemon;
    await daemon.restart();
    expect([daemon.api, daemon.pieces]).toEqual([api, pieces]);
    expect(daemon.pid).not.toBe(pid);
    expect((await fetch(`${daemon.api}/healthy`)).status).toBe(200);
  });

  it('exits 2 on a bad config, naming the key, and the helper shows the output', async () => {
    const failing = startPeerDaemon({
      backend: { name: 'fs', root: join(work, 'b4') },
      extraConfig: { objectStorage: { maxReplicas: 101 } },
    });
    await expect(failing).rejects.toThrow(/exited \(code 2\) before it was ready/);
    await expect(failing).rejects.toThrow(/objectStorage\.maxReplicas: must be ≤ 100/);
  });
});
