import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ObjectBackend } from '../backends/object-backend.ts';
import { formatDigest } from '../core/digest.ts';
import { ValidationError } from '../core/errors.ts';
import { WriteMode } from '../core/write-mode.ts';
import type { ObjectService, PutUpload } from './object-service.ts';

export interface BackendObjectServiceOptions {
  /** Where uploads are spooled while their md5 is computed; os.tmpdir() by default. */
  readonly spoolDir?: string;
}

/**
 * An ObjectService straight over a backend, with no cache: every write is synchronous
 * (WriteBack semantics, whatever mode was asked), every read goes to the backend. It is the
 * fallback of the object API function when no seed peer is reachable, and a reference
 * implementation for the API tests. Ephemeral mode needs a peer cache and is rejected.
 */
export function createBackendObjectService(
  backend: ObjectBackend,
  options: BackendObjectServiceOptions = {},
): ObjectService {
  return {
    metadata: () => ({ name: backend.name, region: backend.region, endpoint: backend.endpoint }),
    createBucket: (bucket) => backend.createBucket(bucket),
    listObjects: (bucket, list) => backend.listObjects(bucket, list),
    headObject: (bucket, key) => backend.headObject(bucket, key),
    getObject: (bucket, key, get) => backend.getObject(bucket, key, get),
    copyObject: async (bucket, source, destination) => {
      await backend.copyObject(bucket, source, destination);
    },
    deleteObject: (bucket, key) => backend.deleteObject(bucket, key),
    putObject: (bucket, key, upload) => spoolAndPut(backend, bucket, key, upload, options),
  };
}

/**
 * The backend wants the digest as metadata before the body, and it is only known after the
 * last byte: spool the file part to disk while hashing, then stream the spool to the backend.
 */
async function spoolAndPut(
  backend: ObjectBackend,
  bucket: string,
  key: string,
  upload: PutUpload,
  options: BackendObjectServiceOptions,
): Promise<void> {
  const dir = await mkdtemp(join(options.spoolDir ?? tmpdir(), 'dfstore-spool-'));
  try {
    const file = join(dir, 'body');
    const md5 = createHash('md5');
    let size = 0;
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        md5.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    await pipeline(upload.body, hashing, createWriteStream(file));
    const form = await upload.form();
    if (form.mode === WriteMode.Ephemeral) {
      throw new ValidationError('mode 2 (Ephemeral) needs a peer cache');
    }
    await backend.putObject(bucket, key, createReadStream(file), {
      contentLength: size,
      contentType: upload.contentType,
      digest: formatDigest('md5', md5.digest('hex')),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
