import { createHash, randomUUID } from 'node:crypto';
import {
  createWriteStream,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { type FileHandle, link, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { noSuchBucket, noSuchKey, OssError } from './oss-error.ts';

/** One stored object: the JSON sidecar next to its data file. */
export interface ObjectRecord {
  readonly key: string;
  readonly size: number;
  /** Quoted upper-case hex, as OSS reports it (`"<md5>"` or `"<md5 of part md5s>-N"`). */
  readonly etag: string;
  readonly lastModified: string;
  readonly type: 'Normal' | 'Multipart';
  /** Content-Type, Content-Disposition, ... and `x-oss-meta-*`, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Name of the immutable data file in the bucket's `data/` directory. */
  readonly dataFile: string;
}

export interface BucketRecord {
  readonly name: string;
  readonly createdAt: string;
  readonly objects: Map<string, ObjectRecord>;
}

/** A body received into a temp file, with its size and MD5. */
export interface ReceivedBody {
  readonly path: string;
  readonly size: number;
  readonly md5: Buffer;
}

/**
 * The server's objects on disk: `buckets/<name>/bucket.json`, `objects/<sha256(key)>.json`
 * sidecars and `data/<uuid>` files. Data files are never rewritten: a put streams into `tmp/`,
 * renames into `data/`, then swaps the sidecar (written synchronously, so the index in memory and
 * the sidecars on disk change together) and unlinks the old data file. Readers holding an open
 * file keep reading the version they opened.
 */
export class OssStore {
  private constructor(
    readonly root: string,
    private readonly buckets: Map<string, BucketRecord>,
  ) {}

  static async open(root: string): Promise<OssStore> {
    await mkdir(join(root, 'buckets'), { recursive: true });
    await mkdir(join(root, 'tmp'), { recursive: true });
    const buckets = new Map<string, BucketRecord>();
    for (const name of readdirSync(join(root, 'buckets'))) {
      const dir = join(root, 'buckets', name);
      const info = JSON.parse(readFileSync(join(dir, 'bucket.json'), 'utf8')) as {
        createdAt: string;
      };
      const objects = new Map<string, ObjectRecord>();
      for (const file of readdirSync(join(dir, 'objects'))) {
        if (!file.endsWith('.json')) continue;
        const record = JSON.parse(readFileSync(join(dir, 'objects', file), 'utf8')) as ObjectRecord;
        objects.set(record.key, record);
      }
      buckets.set(name, { name, createdAt: info.createdAt, objects });
    }
    return new OssStore(root, buckets);
  }

  bucket(name: string): BucketRecord {
    const bucket = this.buckets.get(name);
    if (!bucket) throw noSuchBucket(name);
    return bucket;
  }

  listBuckets(): BucketRecord[] {
    return [...this.buckets.values()].sort((a, b) => compareBytes(a.name, b.name));
  }

  /** Creates the bucket; creating an existing bucket succeeds, as OSS does for its owner. */
  async createBucket(name: string): Promise<void> {
    if (this.buckets.has(name)) return;
    const dir = this.bucketDir(name);
    await mkdir(join(dir, 'objects'), { recursive: true });
    await mkdir(join(dir, 'data'), { recursive: true });
    const createdAt = new Date().toISOString();
    writeFileSync(join(dir, 'bucket.json'), JSON.stringify({ createdAt }));
    this.buckets.set(name, { name, createdAt, objects: new Map() });
  }

  async deleteBucket(name: string, openUploads: number): Promise<void> {
    const bucket = this.bucket(name);
    if (bucket.objects.size > 0 || openUploads > 0) {
      throw new OssError(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty.', {
        BucketName: name,
      });
    }
    this.buckets.delete(name);
    await rm(this.bucketDir(name), { recursive: true, force: true });
  }

  head(bucketName: string, key: string): ObjectRecord {
    const record = this.bucket(bucketName).objects.get(key);
    if (!record) throw noSuchKey(key);
    return record;
  }

  /** Opens the current data file of an object (retrying if a put replaced it meanwhile). */
  async openData(
    bucketName: string,
    key: string,
  ): Promise<{ record: ObjectRecord; file: FileHandle }> {
    for (let attempt = 0; ; attempt++) {
      const record = this.head(bucketName, key);
      try {
        return { record, file: await open(this.dataPath(bucketName, record.dataFile), 'r') };
      } catch (error) {
        if (attempt >= 3 || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }

  tempPath(): string {
    return join(this.root, 'tmp', randomUUID());
  }

  /**
   * Streams a request body into a temp file, hashing it on the way. When `contentMd5` (the
   * base64 Content-MD5 header) is given and differs, the file is removed and InvalidDigest thrown.
   */
  async receive(body: Readable, contentMd5?: string): Promise<ReceivedBody> {
    const path = this.tempPath();
    const hash = createHash('md5');
    let size = 0;
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(path),
      );
    } catch (error) {
      await rm(path, { force: true });
      throw error;
    }
    const md5 = hash.digest();
    if (contentMd5 !== undefined && contentMd5 !== md5.toString('base64')) {
      await rm(path, { force: true });
      throw new OssError(400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.', {
        'Content-MD5': contentMd5,
      });
    }
    return { path, size, md5 };
  }

  /** Makes a received temp file the current version of `key`. */
  async commit(
    bucketName: string,
    key: string,
    body: Pick<ReceivedBody, 'path' | 'size'>,
    fields: Pick<ObjectRecord, 'etag' | 'type' | 'headers'>,
  ): Promise<ObjectRecord> {
    this.bucket(bucketName);
    const dataFile = randomUUID();
    await rename(body.path, this.dataPath(bucketName, dataFile));
    return this.swap(bucketName, key, { ...fields, size: body.size, dataFile });
  }

  /** Server-side copy: a hard link to the immutable source data file, with the given headers. */
  async copy(
    from: { bucket: string; key: string },
    to: { bucket: string; key: string },
    headers?: Readonly<Record<string, string>>,
  ): Promise<ObjectRecord> {
    this.bucket(to.bucket);
    for (let attempt = 0; ; attempt++) {
      const source = this.head(from.bucket, from.key);
      const dataFile = randomUUID();
      try {
        await link(this.dataPath(from.bucket, source.dataFile), this.dataPath(to.bucket, dataFile));
      } catch (error) {
        if (attempt >= 3 || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        continue;
      }
      const { etag, type, size } = source;
      const fields = { etag, type, size, dataFile, headers: headers ?? source.headers };
      return this.swap(to.bucket, to.key, fields);
    }
  }

  /** Deletes an object; a missing object is not an error (OSS answers 204 either way). */
  async delete(bucketName: string, key: string): Promise<void> {
    const bucket = this.bucket(bucketName);
    const record = bucket.objects.get(key);
    if (!record) return;
    bucket.objects.delete(key);
    unlinkSync(this.sidecarPath(bucketName, key));
    await unlink(this.dataPath(bucketName, record.dataFile)).catch(() => {});
  }

  private swap(
    bucketName: string,
    key: string,
    fields: Omit<ObjectRecord, 'key' | 'lastModified'>,
  ): ObjectRecord {
    const bucket = this.bucket(bucketName);
    const record: ObjectRecord = { key, lastModified: new Date().toISOString(), ...fields };
    const sidecar = this.sidecarPath(bucketName, key);
    writeFileSync(`${sidecar}.tmp`, JSON.stringify(record));
    renameSync(`${sidecar}.tmp`, sidecar);
    const previous = bucket.objects.get(key);
    bucket.objects.set(key, record);
    if (previous) unlink(this.dataPath(bucketName, previous.dataFile)).catch(() => {});
    return record;
  }

  private bucketDir(name: string): string {
    return join(this.root, 'buckets', name);
  }

  private dataPath(bucketName: string, dataFile: string): string {
    return join(this.bucketDir(bucketName), 'data', dataFile);
  }

  private sidecarPath(bucketName: string, key: string): string {
    const name = createHash('sha256').update(key).digest('hex');
    return join(this.bucketDir(bucketName), 'objects', `${name}.json`);
  }
}

/** OSS orders keys by their UTF-8 bytes (not by UTF-16 code units, as `<` on strings does). */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** `"<MD5 HEX>"`, the ETag OSS gives a simple upload. */
export function quotedEtag(md5: Buffer, suffix = ''): string {
  return `"${md5.toString('hex').toUpperCase()}${suffix}"`;
}
