import { Readable } from 'node:stream';
import type { ObjectService } from '../../../lib/api/object-service.ts';
import type { ObjectBackend, ObjectMetadata } from '../../../lib/backends/object-backend.ts';
import { ObjectNotFoundError } from '../../../lib/core/errors.ts';
import { resolveRange } from '../../../lib/core/range.ts';
import type { RemoteObjectService } from '../../../lib/function/function-object-service.ts';
import {
  createSeedPeerDirectory,
  type SeedPeerDirectory,
} from '../../../lib/function/seed-peers.ts';
import type { SeedPeer } from '../../../lib/manager/membership/membership-source.ts';
import type { CurrentVersion } from '../../../lib/peer/p2p-protocol.ts';
import { rankSeedPeers } from '../../../lib/peer/placement.ts';

export const MiB = 1024 * 1024;
export const silentLogger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  fatal: () => {},
};

/** Three seed peers as the membership lists them (object API on 65004, pieces on 65002). */
export function seedPeerList(count = 3): SeedPeer[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `seed-${i}`,
    hostname: `seed-${i}`,
    ip: `10.0.0.${i + 1}`,
    port: 65004,
    downloadPort: 65002,
    state: 'active' as const,
  }));
}

export function directoryOf(peers: SeedPeer[], now?: () => number): SeedPeerDirectory {
  return createSeedPeerDirectory({ source: { list: async () => peers }, now });
}

/** IDs of `peers` in rank for `placementKey`, as every peer computes it. */
export function rankedIds(placementKey: string, peers: SeedPeer[]): string[] {
  return rankSeedPeers(placementKey, peers).map((peer) => peer.id);
}

export function metadataOf(key: string, size: number): ObjectMetadata {
  return {
    key,
    contentLength: size,
    contentType: 'application/octet-stream',
    etag: '"e"',
    digest: `md5:${'0'.repeat(32)}`,
    lastModified: new Date('2025-01-02T03:04:05Z'),
  };
}

/** Objects in memory, served as an ObjectService; `calls` records every method called. */
export function memoryService(objects: Map<string, Buffer>) {
  const calls: string[] = [];
  const puts: { key: string; data: Buffer; fields: unknown }[] = [];
  const find = (bucket: string, key: string) => {
    const data = objects.get(`${bucket}/${key}`);
    if (!data) throw new ObjectNotFoundError(bucket, key);
    return data;
  };
  const service: RemoteObjectService & Pick<ObjectService, 'metadata'> = {
    metadata: () => ({ name: 's3', region: 'r', endpoint: 'e' }),
    createBucket: async () => {
      calls.push('createBucket');
    },
    listObjects: async () => {
      calls.push('listObjects');
      return { objects: [], commonPrefixes: [], isTruncated: false };
    },
    headObject: async (bucket, key) => {
      calls.push('headObject');
      return metadataOf(key, find(bucket, key).length);
    },
    getObject: async (bucket, key, options) => {
      calls.push('getObject');
      const data = find(bucket, key);
      const range = options.range ? resolveRange(options.range, data.length) : undefined;
      const bytes = range ? data.subarray(range.start, range.end + 1) : data;
      return { metadata: metadataOf(key, data.length), body: Readable.from([bytes]), range };
    },
    putObject: async (bucket, key, upload) => {
      calls.push('putObject');
      const chunks: Buffer[] = [];
      for await (const chunk of upload.body) chunks.push(chunk as Buffer);
      const data = Buffer.concat(chunks);
      puts.push({ key, data, fields: await upload.form() });
      objects.set(`${bucket}/${key}`, data);
    },
    copyObject: async () => {
      calls.push('copyObject');
    },
    deleteObject: async (bucket, key) => {
      calls.push('deleteObject');
      objects.delete(`${bucket}/${key}`);
    },
  };
  return { service, calls, puts };
}

/** A service whose every call fails like a refused connection. */
export function unreachableService(): RemoteObjectService {
  const refuse = async (): Promise<never> => {
    throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.9:65004'), {
      code: 'ECONNREFUSED',
    });
  };
  return {
    createBucket: refuse,
    listObjects: refuse,
    headObject: refuse,
    getObject: refuse,
    putObject: refuse,
    copyObject: refuse,
    deleteObject: refuse,
  };
}

/** The backend calls the function makes itself (presign, and the fallback's writes). */
export function fakeBackend(objects: Map<string, Buffer>, calls: string[] = []) {
  const backend = {
    name: 's3',
    region: 'us-east-1',
    endpoint: 'http://s3.test',
    async presignUrl(bucket: string, key: string, options: { method: string; expiresIn: number }) {
      calls.push(`presign ${options.method} ${bucket}/${key}`);
      return `http://s3.test/${bucket}/${key}?X-Amz-Signature=sig&X-Amz-Expires=${options.expiresIn}`;
    },
    async headObject(bucket: string, key: string) {
      calls.push('headObject');
      const data = objects.get(`${bucket}/${key}`);
      if (!data) throw new ObjectNotFoundError(bucket, key);
      return metadataOf(key, data.length);
    },
    async putObject(
      bucket: string,
      key: string,
      body: Readable,
      options: { digest?: string } = {},
    ) {
      calls.push(`putObject ${options.digest}`);
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      objects.set(`${bucket}/${key}`, Buffer.concat(chunks));
      return { etag: '"e"' };
    },
  };
  return { backend: backend as unknown as ObjectBackend, calls };
}

/** The cluster protocol calls of the function, recorded in order. */
export function fakeP2p(pending?: CurrentVersion, calls: string[] = []) {
  let flushError: Error | undefined;
  return {
    calls,
    failFlush(error: Error) {
      flushError = error;
    },
    client: {
      async currentVersion(pieces: string, bucket: string, key: string) {
        calls.push(`currentVersion ${pieces} ${bucket}/${key}`);
        return pending;
      },
      async flushKey(pieces: string, bucket: string, key: string) {
        calls.push(`flushKey ${pieces} ${bucket}/${key}`);
        if (flushError) throw flushError;
      },
    },
  };
}
