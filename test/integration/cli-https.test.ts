import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackendObjectService } from '../../lib/api/backend-object-service.ts';
import { createApiApp } from '../../lib/api/create-app.ts';
import { createFsBackend } from '../../lib/backends/fs-backend.ts';

// The CLI against an authenticated https front like the Lambda one: Basic auth from the
// endpoint's userinfo, a private CA through --ca-file, and a 307 to a "presigned" URL on another
// origin that must not receive the token. A throwaway CA is made with openssl for each run.
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const token = 'S3cr3t-T0ken';
const presignedBody = 'bytes from the presigned URL';
let work: string;
let front: ServerType;
let presigned: ServerType;
let frontPort: number;
const presignedAuth: (string | undefined)[] = [];

const run = promisify(execFile);

async function makeCertificates(dir: string): Promise<{ key: Buffer; cert: Buffer }> {
  const at = (name: string) => join(dir, name);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=dfstore test CA',
    '-keyout',
    at('ca.key'),
    '-out',
    at('ca.pem'),
  ]);
  await run('openssl', [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    at('server.key'),
    '-out',
    at('server.csr'),
  ]);
  await writeFile(at('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  await run('openssl', [
    'x509',
    '-req',
    '-days',
    '1',
    '-in',
    at('server.csr'),
    '-CA',
    at('ca.pem'),
    '-CAkey',
    at('ca.key'),
    '-CAcreateserial',
    '-extfile',
    at('ext.cnf'),
    '-out',
    at('server.pem'),
  ]);
  return { key: await readFile(at('server.key')), cert: await readFile(at('server.pem')) };
}

function listenTls(app: Hono, tls: { key: Buffer; cert: Buffer }): Promise<[ServerType, number]> {
  return new Promise((resolve) => {
    const server = serve(
      { fetch: app.fetch, port: 0, hostname: '127.0.0.1', createServer, serverOptions: tls },
      (info) => resolve([server, info.port]),
    );
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'dfstore-cli-https-'));
  const tls = await makeCertificates(work);
  const backend = createFsBackend({ name: 'fs', root: join(work, 'backend') });
  await backend.createBucket('secure');

  const backendApp = new Hono().get('/presigned/object', (c) => {
    presignedAuth.push(c.req.header('authorization'));
    return c.body(presignedBody, 200, {
      etag: '"presigned"',
      'last-modified': new Date(0).toUTCString(),
    });
  });
  const [presignedServer, presignedPort] = await listenTls(backendApp, tls);
  presigned = presignedServer;

  const expected = `Basic ${Buffer.from(`dfstore:${token}`).toString('base64')}`;
  const frontApp = new Hono();
  frontApp.use('*', async (c, next) => {
    if (c.req.header('authorization') !== expected) {
      return c.json({ errors: 'Unauthorized', code: 'ERR_UNAUTHORIZED' }, 401);
    }
    await next();
  });
  frontApp.get('/buckets/secure/objects/large.bin', (c) =>
    c.redirect(`https://127.0.0.1:${presignedPort}/presigned/object?X-Amz-Signature=abc`, 307),
  );
  frontApp.route('/', createApiApp({ service: createBackendObjectService(backend) }));
  [front, frontPort] = await listenTls(frontApp, tls);
});

afterAll(async () => {
  for (const server of [front, presigned]) {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
  if (work) await rm(work, { recursive: true, force: true });
});

function dfstore(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/dfstore.js', ...args], {
      cwd: repoRoot,
      env: { ...process.env, DFSTORE_ENDPOINT: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const endpoint = (secret = token) => `https://dfstore:${secret}@127.0.0.1:${frontPort}`;
const caFile = () => join(work, 'ca.pem');

describe('dfstore over https with Basic auth', () => {
  it('refuses an unknown CA and says how to trust one, without printing the token', async () => {
    const result = await dfstore(['ls', 'dfs://secure', '-e', endpoint()]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--ca-file');
    expect(result.stderr).not.toContain(token);
  });

  it('round-trips an object with --ca-file and the token from the endpoint', async () => {
    const source = join(work, 'up.txt');
    await writeFile(source, 'over tls');
    const flags = ['-e', endpoint(), '--ca-file', caFile()];
    expect((await dfstore(['cp', source, 'dfs://secure/dir/up.txt', ...flags])).code).toBe(0);
    const target = join(work, 'down.txt');
    const down = await dfstore(['cp', 'dfs://secure/dir/up.txt', target, ...flags]);
    expect(down.stdout).toMatch(/^download object storage success, length: 8 bytes/);
    expect(await readFile(target, 'utf8')).toBe('over tls');
  });

  it('maps a wrong token to a 401 error', async () => {
    const result = await dfstore([
      'ls',
      'dfs://secure',
      '-e',
      endpoint('wrong'),
      '--ca-file',
      caFile(),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Error: .*401 Unauthorized.*ERR_UNAUTHORIZED/);
    expect(result.stderr).not.toContain('wrong');
  });

  it('follows a 307 to another origin without sending the token there', async () => {
    const target = join(work, 'large.bin');
    const result = await dfstore([
      'cp',
      'dfs://secure/large.bin',
      target,
      '-e',
      endpoint(),
      '--ca-file',
      caFile(),
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await readFile(target, 'utf8')).toBe(presignedBody);
    expect(presignedAuth).toEqual([undefined]);
  });
});
