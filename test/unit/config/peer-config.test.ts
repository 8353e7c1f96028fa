import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  loadPeerConfig,
  type PeerConfig,
  parsePeerConfig,
} from '../../../lib/config/peer-config.ts';
import { DEFAULT_OBJECT_STORAGE_FILTER } from '../../../lib/config/peer-config-schema.ts';

const GiB = 1024 ** 3;
const cwd = '/srv/dfstore';
const parse = (raw: unknown): PeerConfig => parsePeerConfig(raw, { cwd });

/** The issues of the ConfigError that `fn` throws. */
function issuesOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'dfstore-peer-config-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('peer config defaults', () => {
  it('fills every default from an empty file', () => {
    expect(parse({})).toEqual({
      role: 'peer',
      host: {},
      logLevel: 'info',
      shutdownTimeoutMs: 30_000,
      objectStorage: {
        enable: true,
        filter: DEFAULT_OBJECT_STORAGE_FILTER,
        maxReplicas: 3,
        writeBack: { concurrency: 4, retryBase: 1000, retryCap: 60_000 },
        tcpListen: { listen: '127.0.0.1', port: { start: 65004, end: 65004 } },
        tls: undefined,
      },
      upload: { tcpListen: { listen: '127.0.0.1', port: { start: 65002, end: 65002 } } },
      storage: { dataDir: '/srv/dfstore/.dfstore/peer', capacity: 10 * GiB },
      limits: { maxObjectSize: 10 * GiB, headersTimeout: 60_000, bodyIdleTimeout: 60_000 },
      manager: { netAddrs: [] },
      backend: { name: 'fs', root: '/srv/dfstore/.dfstore/backend' },
      metrics: undefined,
    });
  });

  it('strips the signature parameters of S3 and OSS by default', () => {
    const keys = DEFAULT_OBJECT_STORAGE_FILTER.split('&');
    for (const key of ['Expires', 'Signature', 'ns', 'X-Amz-Signature', 'X-Amz-Credential']) {
      expect(keys).toContain(key);
    }
    expect(keys).toContain('OSSAccessKeyId');
    expect(keys).toContain('x-oss-signature-version');
    expect(keys).toHaveLength(16);
  });

  it('listens on every interface by default for a seed peer', () => {
    const config = parse({ role: 'seed-peer' });
    expect(config.objectStorage.tcpListen.listen).toBe('0.0.0.0');
    expect(config.upload.tcpListen.listen).toBe('0.0.0.0');
  });

  it('puts the default fs backend beside dataDir, so sibling daemons share it', () => {
    expect(parse({ storage: { dataDir: 'cluster/seed-peer' } }).backend).toEqual({
      name: 'fs',
      root: '/srv/dfstore/cluster/backend',
    });
  });
});

describe('peer config keys', () => {
  it('reads every key', () => {
    const config = parse({
      role: 'seed-peer',
      logLevel: 'debug',
      shutdownTimeout: '5s',
      objectStorage: {
        enable: false,
        filter: 'Expires&Signature',
        maxReplicas: 100,
        tcpListen: { listen: '10.0.0.1', port: { start: 7000, end: 7009 } },
        security: {
          insecure: false,
          cert: 'c.pem',
          key: 'k.pem',
          caCert: 'ca.pem',
          tlsVerify: true,
        },
      },
      upload: { tcpListen: { listen: '127.0.0.2', port: 0 } },
      storage: { dataDir: '/var/lib/dfstore', capacity: '512MiB' },
      manager: {
        netAddrs: ['10.0.0.5:65003', { type: 'tcp', addr: 'manager:80' }, 'https://m.example.com/'],
      },
      backend: { name: 'fs', root: 'objects' },
      metrics: { port: 9100 },
    });
    expect(config).toMatchObject({
      role: 'seed-peer',
      logLevel: 'debug',
      shutdownTimeoutMs: 5000,
      objectStorage: {
        enable: false,
        filter: 'Expires&Signature',
        maxReplicas: 100,
        tcpListen: { listen: '10.0.0.1', port: { start: 7000, end: 7009 } },
        tls: { cert: 'c.pem', key: 'k.pem', caCert: 'ca.pem', tlsVerify: true },
      },
      upload: { tcpListen: { listen: '127.0.0.2', port: { start: 0, end: 0 } } },
      storage: { dataDir: '/var/lib/dfstore', capacity: 512 * 1024 ** 2 },
      manager: { netAddrs: ['http://10.0.0.5:65003', 'http://manager', 'https://m.example.com'] },
      backend: { name: 'fs', root: '/srv/dfstore/objects' },
      metrics: { listen: '127.0.0.1', port: { start: 9100, end: 9100 } },
    });
  });

  it('passes an S3 backend through the backend schema, with its defaults', () => {
    const config = parse({ backend: { name: 's3', region: 'eu-west-1', forcePathStyle: true } });
    expect(config.backend).toMatchObject({
      name: 's3',
      region: 'eu-west-1',
      partSize: 6 * 1024 ** 2,
    });
  });

  it('has no TLS while security.insecure is true', () => {
    expect(
      parse({ objectStorage: { security: { cert: 'c', key: 'k' } } }).objectStorage.tls,
    ).toBeUndefined();
  });
});

describe('peer config errors name the key path', () => {
  it.each([
    [{ objectStorage: { maxReplicas: 101 } }, 'objectStorage.maxReplicas: must be ≤ 100'],
    [{ objectStorage: { maxReplicas: 0 } }, 'objectStorage.maxReplicas: must be ≥ 1'],
    [{ objectStorage: { maxReplicas: 2.5 } }, 'objectStorage.maxReplicas: must be an integer'],
    [
      { objectStorage: { maxReplicas: '3' } },
      'objectStorage.maxReplicas: expected number, got string "3"',
    ],
    [{ objectStorage: { fitler: 'x' } }, 'objectStorage: unknown key "fitler"'],
    [{ objectStorage: null }, 'objectStorage: expected a mapping, got null'],
    [
      { objectStorage: { tcpListen: { port: 70000 } } },
      'objectStorage.tcpListen.port: must be ≤ 65535',
    ],
    [
      { upload: { tcpListen: { port: { start: 9, end: 8 } } } },
      'upload.tcpListen.port: end < start',
    ],
    [
      { upload: { tcpListen: { port: 'x' } } },
      'upload.tcpListen.port: expected a port number 0..65535 or { start, end }',
    ],
    [{ role: 'leader' }, 'role: must be one of "peer", "seed-peer"'],
    [
      { logLevel: 'loud' },
      'logLevel: must be one of "trace", "debug", "info", "warn", "error", "fatal", "silent"',
    ],
    [
      { storage: { capacity: 'lots' } },
      'storage.capacity: invalid size "lots" (e.g. 10GiB, 512MiB, 1073741824)',
    ],
    [
      { storage: { capacity: 0 } },
      'storage.capacity: invalid size 0 (e.g. 10GiB, 512MiB, 1073741824)',
    ],
    [{ storage: { dataDir: '' } }, 'storage.dataDir: must not be empty'],
    [{ shutdownTimeout: 30 }, 'shutdownTimeout: expected string, got number 30'],
    [
      { manager: { netAddrs: [42] } },
      'manager.netAddrs[0]: expected "host:port", a URL or { type: tcp, addr }',
    ],
    [{ backend: { name: 's3', endpoint: 'not a url' } }, 'backend.endpoint: Invalid URL'],
    [{ metrics: { port: -1 } }, 'metrics.port: must be ≥ 0'],
  ])('%j → %s', (raw, message) => {
    expect(issuesOf(() => parse(raw))).toEqual([message]);
  });

  it('asks for a certificate and key when TLS is on, and a CA to verify clients', () => {
    expect(
      issuesOf(() => parse({ objectStorage: { security: { insecure: false, tlsVerify: true } } })),
    ).toEqual([
      'objectStorage.security.cert: required when insecure is false',
      'objectStorage.security.key: required when insecure is false',
      'objectStorage.security.caCert: required when tlsVerify is true',
    ]);
    expect(
      issuesOf(() => parse({ objectStorage: { security: { tlsVerify: true, caCert: 'x' } } })),
    ).toEqual(['objectStorage.security.tlsVerify: needs insecure: false']);
  });

  it('reports every problem at once, in a message that names the file', () => {
    const error = (() => {
      try {
        parsePeerConfig({ role: 'x', storage: { capacity: '1 lot' } }, { source: 'peer.yaml' });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(error?.message).toBe(
      'invalid config peer.yaml:\n  role: must be one of "peer", "seed-peer"\n  storage.capacity: invalid size "1 lot" (e.g. 10GiB, 512MiB, 1073741824)',
    );
  });
});

describe('storage.capacity', () => {
  it.each([
    ['10GiB', 10 * GiB],
    ['10GB', 10 * GiB],
    ['1.5 TiB', 1.5 * 1024 * GiB],
    ['512Mi', 512 * 1024 ** 2],
    [4096, 4096],
  ])('%j = %d bytes (binary multiples, as Dragonfly)', (capacity, bytes) => {
    expect(parse({ storage: { capacity } }).storage.capacity).toBe(bytes);
  });
});

describe('loadPeerConfig', () => {
  it('reads YAML, then applies environment overrides', async () => {
    const path = join(work, 'env.yaml');
    await writeFile(path, 'storage:\n  dataDir: from-file\nobjectStorage:\n  maxReplicas: 5\n');
    const config = await loadPeerConfig(
      path,
      {
        DFSTORE_DATA_DIR: '/data/peer',
        DFSTORE_API_PORT: '7004',
        DFSTORE_MANAGER_ADDRS: 'a:1, b:2',
        DFSTORE_LOG_LEVEL: '',
        DFSTORE_PEER_ID: 'seed-peer-1',
        DFSTORE_ADVERTISE_IP: '10.0.1.7',
      },
      { cwd },
    );
    expect(config.host).toEqual({ id: 'seed-peer-1', advertiseIP: '10.0.1.7' });
    expect(config.storage.dataDir).toBe('/data/peer');
    expect(config.objectStorage.tcpListen.port).toEqual({ start: 7004, end: 7004 });
    expect(config.objectStorage.maxReplicas).toBe(5);
    expect(config.manager.netAddrs).toEqual(['http://a:1', 'http://b:2']);
    expect(config.logLevel).toBe('info');
  });

  it('names the variable behind a bad override', async () => {
    await expect(loadPeerConfig(undefined, { DFSTORE_API_PORT: 'http' }, { cwd })).rejects.toThrow(
      'objectStorage.tcpListen.port: expected a port number 0..65535 or { start, end } (set by DFSTORE_API_PORT)',
    );
  });

  it('uses every default without a file, and treats an empty file as empty', async () => {
    const empty = join(work, 'empty.yaml');
    await writeFile(empty, '');
    expect(await loadPeerConfig(empty, {}, { cwd })).toEqual(
      await loadPeerConfig(undefined, {}, { cwd }),
    );
  });

  it('reports unreadable files, bad YAML and non-mappings', async () => {
    await expect(loadPeerConfig(join(work, 'missing.yaml'), {})).rejects.toThrow(
      /cannot read: ENOENT/,
    );
    const bad = join(work, 'bad.yaml');
    await writeFile(bad, 'role: [peer\n');
    await expect(loadPeerConfig(bad, {})).rejects.toThrow(/not valid YAML/);
    await writeFile(bad, '- a\n- b\n');
    await expect(loadPeerConfig(bad, {})).rejects.toThrow('the config must be a YAML mapping');
  });

  it('reads PEM files, keeps inline PEM, and names the key of an unreadable file', async () => {
    const pem = (label: string) => `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----`;
    await writeFile(join(work, 'cert.pem'), `${pem('CERTIFICATE')}\n`);
    const path = join(work, 'tls.yaml');
    const security = {
      insecure: false,
      cert: 'cert.pem',
      key: pem('PRIVATE KEY'),
      caCert: 'ca.pem',
      tlsVerify: true,
    };
    await writeFile(path, JSON.stringify({ objectStorage: { security } }));
    await expect(loadPeerConfig(path, {}, { cwd: work })).rejects.toThrow(
      /objectStorage\.security\.caCert: cannot read ca\.pem: ENOENT/,
    );
    await writeFile(join(work, 'ca.pem'), pem('CERTIFICATE'));
    const config = await loadPeerConfig(path, {}, { cwd: work });
    expect(config.objectStorage.tls).toEqual({
      cert: pem('CERTIFICATE'),
      key: pem('PRIVATE KEY'),
      caCert: pem('CERTIFICATE'),
      tlsVerify: true,
    });
  });
});

describe('objectStorage.writeBack', () => {
  it('takes concurrency and retry durations, naming a bad key', () => {
    const config = parsePeerConfig(
      { objectStorage: { writeBack: { concurrency: 8, retryBase: '200ms', retryCap: '10s' } } },
      {},
    );
    expect(config.objectStorage.writeBack).toEqual({
      concurrency: 8,
      retryBase: 200,
      retryCap: 10_000,
    });
    expect(() => parsePeerConfig({ objectStorage: { writeBack: { concurrency: 0 } } }, {})).toThrow(
      /objectStorage\.writeBack\.concurrency/,
    );
  });
});
