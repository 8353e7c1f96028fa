import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError } from '../../lib/core/errors.ts';
import { createLogger } from '../../lib/observability/logger.ts';
import { type PeerDaemon, startPeerDaemon } from '../helpers/peer-daemon.ts';
import { type TempFsBackend, tempFsBackend } from '../helpers/temp-fs-backend.ts';

// Log redaction (SECURITY.md): tokens, secrets, Authorization headers and presigned query
// strings never reach a log line, whether a component logs them by mistake (the logger's
// safety net) or a client sends them to a live daemon (its access log).
const SECRET = 'S3CR3T-never-logged';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  return { lines, stream };
}

describe('the logger redacts credentials wherever they appear', () => {
  it('censors auth headers, secrets and tokens, nested or not', () => {
    const { lines, stream } = capture();
    const logger = createLogger({ level: 'info', destination: stream });
    logger.info(
      {
        headers: { authorization: `Basic ${SECRET}`, cookie: SECRET },
        request: { headers: { authorization: `Bearer ${SECRET}` } },
        backend: { secretAccessKey: SECRET, accessKeySecret: SECRET, sessionToken: SECRET },
        token: SECRET,
        password: SECRET,
      },
      'a careless line',
    );
    expect(lines.join('')).not.toContain(SECRET);
    expect(lines.join('')).toContain('[redacted]');
  });

  it('scrubs presigned query strings and URL userinfo out of logged errors', () => {
    const { lines, stream } = capture();
    const logger = createLogger({ level: 'info', destination: stream });
    const cause = new Error(
      `GET https://b.s3.amazonaws.com/k?X-Amz-Signature=${SECRET}&X-Amz-Credential=AK failed ` +
        `(via https://dfstore:${SECRET}@fn.lambda-url.us-east-1.on.aws/)`,
    );
    const error = new BackendError('s3 getObject b/k failed', { cause });
    Object.assign(error, { $response: { headers: { authorization: SECRET } } });
    logger.error({ err: error }, 'backend failed');
    const text = lines.join('');
    expect(text).not.toContain(SECRET);
    expect(text).toContain('?[redacted]');
  });
});

describe('a live daemon keeps client credentials out of its log', () => {
  let daemon: PeerDaemon;
  let fs: TempFsBackend;
  beforeAll(async () => {
    fs = await tempFsBackend();
    daemon = await startPeerDaemon({
      name: 'security-logs',
      backend: { name: 'fs', root: fs.root },
      extraConfig: { logLevel: 'debug' },
    });
  });
  afterAll(async () => {
    await daemon?.dispose();
    await fs?.remove();
  });

  it('logs neither Authorization headers nor signed query strings', async () => {
    const base = `${daemon.api}/buckets/log-bucket`;
    const headers = {
      authorization: `Basic ${Buffer.from(`dfstore:${SECRET}`).toString('base64')}`,
    };
    await fetch(base, { method: 'POST', headers });
    await fetch(`${base}/objects/k?X-Amz-Signature=${SECRET}&token=${SECRET}`, { headers });
    await fetch(`${base}/metadatas?marker=${SECRET}`, { headers: { 'x-api-token': SECRET } });
    await fetch(`${daemon.pieces}/download/abc/abc?peerId=${SECRET}`, { headers });
    const log = await readFile(daemon.logFile, 'utf8');
    expect(log).toContain('"msg":"request"');
    expect(log).not.toContain(SECRET);
    expect(log).not.toContain(Buffer.from(`dfstore:${SECRET}`).toString('base64'));
  });
});
