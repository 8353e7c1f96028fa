import { createHash, randomBytes } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createDfstoreClient, type DfstoreClient } from '../../lib/client/dfstore-client.ts';
import { DfstoreNotFoundError } from '../../lib/client/errors.ts';
import type { BackendConfigInput } from '../../lib/config/backend-config.ts';
import { DEFAULT_OBJECT_STORAGE_FILTER } from '../../lib/config/peer-config-schema.ts';
import { DIGEST_METADATA_KEY } from '../../lib/core/headers.ts';
import { taskIdForDigest } from '../../lib/peer/task-ids.ts';
import type { PeerDaemon } from './peer-daemon.ts';
import { metricValue as sampleSum } from './prometheus-text.ts';
import type { S3Endpoint } from './provided-context.ts';

/** What P2P tests ask a cluster (cluster.ts) and its backend from outside. */

type Node = Pick<PeerDaemon, 'api' | 'pieces' | 'metrics'>;

/**
 * Whether the daemon holds the task: its piece server answers the first byte of it
 * (`GET /download/<id[0:3]>/<id>`, `Range: bytes=0-0`) with 206; 404 means not held. Anything
 * else (a dead daemon, a 5xx) throws.
 */
export async function holds(daemon: Node, taskId: string): Promise<boolean> {
  const res = await fetch(`${daemon.pieces}/download/${taskId.slice(0, 3)}/${taskId}`, {
    headers: { range: 'bytes=0-0' },
  });
  await res.arrayBuffer();
  if (res.status === 206) return true;
  if (res.status === 404) return false;
  throw new Error(`${daemon.pieces}: download probe of ${taskId} answered ${res.status}`);
}

const clients = new Map<string, DfstoreClient>();

/** A dfstore client of the daemon's object API (one per API URL, kept across restarts). */
export function clientOf(daemon: Node): DfstoreClient {
  let client = clients.get(daemon.api);
  if (!client) {
    client = createDfstoreClient({ endpoint: daemon.api });
    clients.set(daemon.api, client);
  }
  return client;
}

/** Closes the clients clientOf made (for afterAll). */
export async function closeClients(): Promise<void> {
  const all = [...clients.values()];
  clients.clear();
  await Promise.all(all.map((client) => client.destroy()));
}

/** The sum of the samples of `name` (with `labels`) on the daemon's `/metrics`. */
export async function metricValue(
  daemon: Node,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Promise<number> {
  const res = await fetch(`${daemon.metrics ?? daemon.pieces}/metrics`);
  if (!res.ok) throw new Error(`${daemon.pieces}/metrics answered ${res.status}`);
  return sampleSum(await res.text(), name, labels);
}

export interface TestObject {
  readonly data: Buffer;
  readonly sha256: string;
  /** `md5:<hex>`: the version identity dfstore writes as the `digest` metadata. */
  readonly digest: string;
}

export function randomObject(size: number): TestObject {
  const data = randomBytes(size);
  return {
    data,
    sha256: createHash('sha256').update(data).digest('hex'),
    digest: `md5:${createHash('md5').update(data).digest('hex')}`,
  };
}

/** The task ID of one version of `bucket/key` (lib/peer/task-ids.ts). */
export function taskIdOf(
  bucket: string,
  key: string,
  object: Pick<TestObject, 'digest'>,
  options: { backendName?: string; filter?: string } = {},
): string {
  const filter = options.filter ?? DEFAULT_OBJECT_STORAGE_FILTER;
  return taskIdForDigest(options.backendName ?? 's3', bucket, key, object.digest, filter);
}

export interface Download {
  readonly status: number;
  readonly size: number;
  readonly sha256: string;
}

/**
 * GETs the object through the daemon, hashing it as it streams; 404 → status 404.
 * `onFirstBytes` runs once, when the first body chunk arrived.
 */
export async function download(
  daemon: Node,
  bucket: string,
  key: string,
  options: { onFirstBytes?: () => void } = {},
): Promise<Download> {
  try {
    const got = await clientOf(daemon).getObject(bucket, key);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of got.body as AsyncIterable<Buffer>) {
      if (size === 0 && chunk.length > 0) options.onFirstBytes?.();
      hash.update(chunk);
      size += chunk.length;
    }
    return { status: got.status, sha256: hash.digest('hex'), size };
  } catch (error) {
    if (error instanceof DfstoreNotFoundError) return { status: 404, size: 0, sha256: '' };
    throw error;
  }
}

/** The daemons' S3 backend config for the shared RGW reached at `endpoint` (e.g. a proxy). */
export function s3BackendAt(s3: S3Endpoint, endpoint: string): BackendConfigInput {
  return {
    name: 's3',
    endpoint,
    region: s3.region,
    forcePathStyle: true,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  };
}

/** The AWS SDK straight at the RGW, past any proxy: objects no daemon has seen. */
export function directS3(s3: S3Endpoint) {
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  return {
    client,
    createBucket: (bucket: string) => client.send(new CreateBucketCommand({ Bucket: bucket })),
    /**
     * A single PUT. With `digest`, the object carries dfstore's `digest` metadata, so its
     * task ID is taskIdOf(…, object): what a test needs to know which seed peer tracks it.
     */
    putObject: (bucket: string, key: string, object: TestObject, withDigest = false) =>
      client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: object.data,
          ContentLength: object.data.length,
          Metadata: withDigest ? { [DIGEST_METADATA_KEY]: object.digest } : undefined,
        }),
      ),
    close: () => client.destroy(),
  };
}
