import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PeerDaemon, startPeerDaemon } from '../helpers/peer-daemon.ts';

// The object API over TLS with client certificates (objectStorage.security with tlsVerify),
// from a throwaway CA made with openssl for each run.
const run = promisify(execFile);
let work: string;
let daemon: PeerDaemon;
const at = (name: string) => join(work, name);

/** Signs `<name>.pem` for `<name>.key` with the CA; `ext` is the x509v3 extension line. */
async function issue(name: string, subject: string, ext: string): Promise<void> {
  await run('openssl', [
    ...['req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject],
    ...['-keyout', at(`${name}.key`), '-out', at(`${name}.csr`)],
  ]);
  await writeFile(at(`${name}.ext`), `${ext}\n`);
  await run('openssl', [
    ...['x509', '-req', '-days', '1', '-in', at(`${name}.csr`)],
    ...['-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial'],
    ...['-extfile', at(`${name}.ext`), '-out', at(`${name}.pem`)],
  ]);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'dfstore-daemon-tls-'));
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1'],
    ...['-subj', '/CN=dfstore daemon test CA', '-keyout', at('ca.key'), '-out', at('ca.pem')],
  ]);
  await issue('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1');
  await issue('client', '/CN=dfstore test client', 'extendedKeyUsage=clientAuth');
  daemon = await startPeerDaemon({
    backend: { name: 'fs', root: at('backend') },
    extraConfig: {
      objectStorage: {
        security: {
          insecure: false,
          cert: at('server.pem'),
          // Inline PEM works as well as a path (Dragonfly's PEMContent).
          key: await readFile(at('server.key'), 'utf8'),
          caCert: at('ca.pem'),
          tlsVerify: true,
        },
      },
    },
  });
});

afterAll(async () => {
  await daemon?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Answer {
  readonly status?: number;
  readonly body?: string;
  readonly error?: string;
}

/** GET over https trusting the test CA, with the client certificate when `withCert`. */
async function get(path: string, withCert: boolean): Promise<Answer> {
  const tls = {
    ca: await readFile(at('ca.pem')),
    ...(withCert
      ? { cert: await readFile(at('client.pem')), key: await readFile(at('client.key')) }
      : {}),
  };
  return new Promise((resolve) => {
    request(`${daemon.api}${path}`, { ...tls, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (error) =>
        resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message }),
      );
    })
      .on('error', (error) =>
        resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message }),
      )
      .end();
  });
}

describe('dfstore-daemon with TLS and client certificates', () => {
  it('announces an https API and keeps the piece server plain http', () => {
    expect(daemon.api).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(daemon.pieces).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('serves a client that presents a certificate signed by caCert', async () => {
    expect(await get('/healthy', true)).toEqual({ status: 200, body: '"OK"' });
    const metadata = await get('/metadata', true);
    expect(metadata.status).toBe(200);
    expect(JSON.parse(metadata.body ?? '')).toMatchObject({ Name: 'fs' });
  });

  it('refuses a client without a certificate', async () => {
    const answer = await get('/healthy', false);
    expect(answer.status).toBeUndefined();
    // TLS 1.3: the server's alert arrives after the client's handshake, on the first read.
    expect(answer.error).toMatch(/CERTIFICATE_REQUIRED|ECONNRESET/);
  });

  it('refuses plain http on the TLS port', async () => {
    const plain = daemon.api.replace('https:', 'http:');
    await expect(fetch(`${plain}/healthy`)).rejects.toThrow();
  });
});
