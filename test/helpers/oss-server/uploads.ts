import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalidArgument, noSuchUpload, OssError } from './oss-error.ts';
import { type ObjectRecord, type OssStore, quotedEtag } from './store.ts';
import type { CompletePart } from './xml.ts';

/** OSS rejects a CompleteMultipartUpload whose parts (but the last) are smaller than this. */
export const MIN_PART_SIZE = 100 * 1024;
const MAX_PART_NUMBER = 10_000;

interface Part {
  readonly size: number;
  readonly md5: Buffer;
  readonly etag: string;
}

export interface Upload {
  readonly id: string;
  readonly bucket: string;
  readonly key: string;
  /** Object headers given at initiation (Content-Type, x-oss-meta-*...), applied on completion. */
  readonly headers: Readonly<Record<string, string>>;
  readonly initiated: string;
  readonly parts: Map<number, Part>;
}

/**
 * Multipart uploads in progress: their parts are files under `uploads/<uploadId>/`, their state
 * is in memory (uploads do not survive a restart of the test server).
 */
export class Uploads {
  private readonly uploads = new Map<string, Upload>();

  constructor(private readonly store: OssStore) {}

  async initiate(bucket: string, key: string, headers: Record<string, string>): Promise<Upload> {
    this.store.bucket(bucket);
    const id = randomBytes(16).toString('hex').toUpperCase();
    await mkdir(this.dir(id), { recursive: true });
    const upload = {
      id,
      bucket,
      key,
      headers,
      initiated: new Date().toISOString(),
      parts: new Map(),
    };
    this.uploads.set(id, upload);
    return upload;
  }

  /** The upload `id` of `bucket/key`, or NoSuchUpload. */
  get(id: string, bucket: string, key: string): Upload {
    const upload = this.uploads.get(id);
    if (!upload || upload.bucket !== bucket || upload.key !== key) throw noSuchUpload(id);
    return upload;
  }

  countIn(bucket: string): number {
    return [...this.uploads.values()].filter((upload) => upload.bucket === bucket).length;
  }

  async putPart(upload: Upload, partNumber: string | null, body: Readable, contentMd5?: string) {
    const number = Number(partNumber);
    if (!Number.isInteger(number) || number < 1 || number > MAX_PART_NUMBER) {
      throw invalidArgument(
        `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive.`,
        'partNumber',
        partNumber ?? '',
      );
    }
    const received = await this.store.receive(body, contentMd5);
    if (!this.uploads.has(upload.id)) {
      await rm(received.path, { force: true });
      throw noSuchUpload(upload.id);
    }
    await rename(received.path, join(this.dir(upload.id), String(number)));
    const part = { size: received.size, md5: received.md5, etag: quotedEtag(received.md5) };
    upload.parts.set(number, part);
    return part;
  }

  /**
   * Validates the list as OSS does (ascending part numbers, every part uploaded with that ETag,
   * every part but the last at least 100 KiB), then concatenates the parts into the object.
   */
  async complete(upload: Upload, list: readonly CompletePart[]): Promise<ObjectRecord> {
    const parts = list.map(({ partNumber, etag }, index) => {
      const previous = list[index - 1];
      if (previous && partNumber <= previous.partNumber) {
        throw new OssError(
          400,
          'InvalidPartOrder',
          'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
        );
      }
      const part = upload.parts.get(partNumber);
      if (!part || normalizeEtag(part.etag) !== normalizeEtag(etag)) {
        throw new OssError(
          400,
          'InvalidPart',
          "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.",
          { PartNumber: String(partNumber), ETag: etag },
        );
      }
      if (index < list.length - 1 && part.size < MIN_PART_SIZE) {
        throw new OssError(
          400,
          'EntityTooSmall',
          'Your proposed upload is smaller than the minimum allowed size.',
          {
            PartNumber: String(partNumber),
            MinSizeAllowed: String(MIN_PART_SIZE),
          },
        );
      }
      return { partNumber, ...part };
    });
    this.uploads.delete(upload.id);
    const dir = this.dir(upload.id);
    const path = this.store.tempPath();
    try {
      await pipeline(async function* () {
        for (const part of parts) yield* createReadStream(join(dir, String(part.partNumber)));
      }, createWriteStream(path));
      const size = parts.reduce((total, part) => total + part.size, 0);
      const md5 = createHash('md5');
      for (const part of parts) md5.update(part.md5);
      const etag = quotedEtag(md5.digest(), `-${parts.length}`);
      const fields = { etag, type: 'Multipart' as const, headers: upload.headers };
      return await this.store.commit(upload.bucket, upload.key, { path, size }, fields);
    } finally {
      await rm(path, { force: true });
      await rm(dir, { recursive: true, force: true });
    }
  }

  async abort(upload: Upload): Promise<void> {
    this.uploads.delete(upload.id);
    await rm(this.dir(upload.id), { recursive: true, force: true });
  }

  private dir(id: string): string {
    return join(this.store.root, 'uploads', id);
  }
}

function normalizeEtag(etag: string): string {
  return etag.replace(/"/g, '').trim().toUpperCase();
}
