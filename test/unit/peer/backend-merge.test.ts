import { describe, expect, it } from 'vitest';
import { mergeBackendConfig } from '../../../lib/peer/backend-merge.ts';

const s3 = {
  name: 's3' as const,
  region: 'us-east-1',
  endpoint: 'http://127.0.0.1:7480',
  forcePathStyle: true,
  accessKeyId: 'AK',
  secretAccessKey: 'SK',
  multipartThreshold: 16 << 20,
  partSize: 6 << 20,
  queueSize: 3,
  requestTimeoutMs: 60_000,
};

describe('mergeBackendConfig', () => {
  it('keeps the peer credentials and takes the manager location', () => {
    const result = mergeBackendConfig(s3, {
      name: 's3',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:9000',
      s3ForcePathStyle: false,
    });
    expect(result).toEqual({
      kind: 'changed',
      config: {
        ...s3,
        region: 'eu-west-1',
        endpoint: 'http://127.0.0.1:9000',
        forcePathStyle: false,
      },
    });
  });

  it('reports no change when the manager serves what the peer has', () => {
    const same = { name: 's3', region: s3.region, endpoint: s3.endpoint, s3ForcePathStyle: true };
    expect(mergeBackendConfig(s3, same)).toEqual({ kind: 'same' });
  });

  it('an empty endpoint means the provider default endpoint', () => {
    const result = mergeBackendConfig(s3, {
      name: 's3',
      region: 'us-east-1',
      endpoint: '',
      s3ForcePathStyle: false,
    });
    expect(result.kind === 'changed' && result.config.name === 's3' && result.config.endpoint).toBe(
      undefined,
    );
  });

  it('refuses another kind of backend: the peer has no credentials for it', () => {
    const result = mergeBackendConfig(s3, {
      name: 'oss',
      region: 'oss-cn-hangzhou',
      endpoint: 'https://oss-cn-hangzhou.aliyuncs.com',
      s3ForcePathStyle: false,
    });
    expect(result).toMatchObject({ kind: 'incompatible' });
  });

  it('moves an fs backend to the root the manager names as a file URL', () => {
    const local = { name: 'fs' as const, root: '/data/a' };
    expect(
      mergeBackendConfig(local, {
        name: 'fs',
        region: 'local',
        endpoint: 'file:///data/b',
        s3ForcePathStyle: false,
      }),
    ).toEqual({ kind: 'changed', config: { name: 'fs', root: '/data/b' } });
    expect(
      mergeBackendConfig(local, {
        name: 'fs',
        region: 'local',
        endpoint: 'http://x',
        s3ForcePathStyle: false,
      }),
    ).toMatchObject({ kind: 'incompatible' });
  });
});
