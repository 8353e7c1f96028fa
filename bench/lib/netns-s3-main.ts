// The swarm bench's S3 host, run inside its network namespace (bench/lib/netns.ts): a Ceph RGW
// on the namespace's 127.0.0.1 (test/helpers/ceph-rgw.ts), the object written into it with the
// AWS SDK, and a GET-counting proxy on the namespace's address, which is what the other hosts
// reach. Args: one JSON object (see Options). Prints one JSON line once ready (see Ready), then
// answers `{"id":…,"op":"counts"}` lines on stdin with the proxy's counts. Stops Ceph and exits
// on SIGTERM/SIGINT or when stdin ends.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { DIGEST_METADATA_KEY } from '../../lib/core/headers.ts';
import { startCephRgw } from '../../test/helpers/ceph-rgw.ts';
import { type CountingProxy, startCountingProxy } from '../../test/helpers/counting-proxy.ts';
import { generatedObject } from './generated-object.ts';

export interface S3HostOptions {
  /** The namespace's address, where the proxy listens. */
  readonly listen: string;
  readonly port: number;
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** Write dfstore's `digest` metadata (`md5:<hex>`) with the object. */
  readonly digest: boolean;
}

export interface S3HostReady {
  /** The proxy: what daemons and clients use as the S3 endpoint. */
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sha256: string;
  /** `md5:<hex>` of the object (written as metadata only when asked). */
  readonly digest: string;
  /** A presigned GET of the object through the proxy (the direct baseline). */
  readonly presignedGet: string;
  readonly startSeconds: number;
  readonly putSeconds: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as S3HostOptions;
const started = performance.now();
const rgw = await startCephRgw();
const work = await mkdtemp(join(tmpdir(), 'dfstore-bench-s3-object-'));
let proxy: CountingProxy | undefined;
let stopping: Promise<void> | undefined;
const stop = () => {
  stopping ??= (async () => {
    await proxy?.close().catch(() => {});
    await rm(work, { recursive: true, force: true });
    await rgw.stop();
  })();
  return stopping.then(
    () => process.exit(0),
    (error: unknown) => {
      console.error('stopping the S3 host failed', error);
      process.exit(1);
    },
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

try {
  const startSeconds = (performance.now() - started) / 1000;
  const credentials = { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
  const clientOptions = {
    region: rgw.region,
    forcePathStyle: true,
    credentials,
    // Pacific RGW answers 411 to the SDK's default streamed aws-chunked PutObject.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  } as const;
  const s3 = new S3Client({ ...clientOptions, endpoint: rgw.endpoint });
  await s3.send(new CreateBucketCommand({ Bucket: options.bucket }));

  // The object goes to a file first: its md5 (the `digest`) must be known before the PUT.
  const file = join(work, 'object.bin');
  const md5 = createHash('md5');
  const object = generatedObject(options.size);
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      md5.update(chunk);
      callback(null, chunk);
    },
  });
  await pipeline(object.stream, tap, createWriteStream(file));
  const digest = `md5:${md5.digest('hex')}`;
  const putStarted = performance.now();
  await s3.send(
    new PutObjectCommand({
      Bucket: options.bucket,
      Key: options.key,
      Body: createReadStream(file),
      ContentLength: options.size,
      Metadata: options.digest ? { [DIGEST_METADATA_KEY]: digest } : undefined,
    }),
  );
  const putSeconds = (performance.now() - putStarted) / 1000;
  await rm(file, { force: true });

  const rgwUrl = new URL(rgw.endpoint);
  proxy = await startCountingProxy(rgwUrl.hostname, Number(rgwUrl.port), {
    listen: options.listen,
    port: options.port,
  });
  const viaProxy = new S3Client({ ...clientOptions, endpoint: proxy.url });
  const presignedGet = await getSignedUrl(
    viaProxy,
    new GetObjectCommand({ Bucket: options.bucket, Key: options.key }),
    { expiresIn: 3600 },
  );
  const ready: S3HostReady = {
    endpoint: proxy.url,
    region: rgw.region,
    ...credentials,
    sha256: await object.sha256,
    digest,
    presignedGet,
    startSeconds,
    putSeconds,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
} catch (error) {
  console.error('the S3 host failed to start', error);
  await stop();
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === '') return;
  const { id } = JSON.parse(line) as { id: number };
  process.stdout.write(`${JSON.stringify({ id, ...getCounts(proxy) })}\n`);
});
lines.once('close', () => void stop());

/** What the swarm bench reads of the backend: GET requests and their response body bytes. */
export interface GetCounts {
  readonly gets: number;
  readonly getBytes: number;
}

function getCounts(counting: CountingProxy | undefined): GetCounts {
  const gets = (counting?.requests() ?? []).filter((request) => request.method === 'GET');
  return {
    gets: gets.length,
    getBytes: gets.reduce((sum, request) => sum + request.bytes, 0),
  };
}
