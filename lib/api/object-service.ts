import type { Readable } from 'node:stream';
import type {
  BackendName,
  ListObjectsOptions,
  ListObjectsResult,
  ObjectMetadata,
} from '../backends/object-backend.ts';
import type { RangeSpec, ResolvedRange } from '../core/range.ts';
import type { WriteMode } from '../core/write-mode.ts';

/**
 * What the dfstore HTTP API needs from whoever serves objects: the peer daemon (cache + P2P +
 * backend) or the object API function. Errors are the typed errors of lib/core/errors.ts.
 */
export interface ObjectService {
  /** `GET /metadata`: the backend's kind, region and endpoint. */
  metadata(): StorageMetadata;
  createBucket(bucket: string): Promise<void>;
  listObjects(bucket: string, options: ListObjectsOptions): Promise<ListObjectsResult>;
  headObject(bucket: string, key: string): Promise<ObjectMetadata>;
  getObject(bucket: string, key: string, options: ServiceGetOptions): Promise<ServiceGetResult>;
  /**
   * Hosts with an inline body limit (the object API function) implement this instead of serving
   * every GET inline: the answer is the object, or a URL the client is sent to with a 307 (a
   * presigned backend GET, which honours the client's Range). The GET route prefers it.
   */
  getObjectOrRedirect?(
    bucket: string,
    key: string,
    options: ServiceGetOptions,
  ): Promise<ServiceGetResult | ServiceGetRedirect>;
  /**
   * Stores the `file` part as it streams in. `form()` resolves once the whole multipart body has
   * been parsed (mode, filter and maxReplicas may come after the file); it rejects on bad fields.
   * The object becomes visible only when this resolves, per the write mode's durability rule.
   */
  putObject(bucket: string, key: string, upload: PutUpload): Promise<void>;
  copyObject(bucket: string, sourceKey: string, destinationKey: string): Promise<void>;
  deleteObject(bucket: string, key: string): Promise<void>;
}

export interface StorageMetadata {
  readonly name: BackendName;
  readonly region: string;
  readonly endpoint: string;
}

export interface ServiceGetOptions {
  readonly range?: RangeSpec;
  /** Overrides the daemon's task-ID filter for this request. */
  readonly filter?: string;
  readonly signal?: AbortSignal;
}

export interface ServiceGetResult {
  /** Metadata of the whole object. */
  readonly metadata: ObjectMetadata;
  readonly body: Readable;
  readonly range?: ResolvedRange;
}

export interface ServiceGetRedirect {
  /** Absolute URL for the `Location` of a 307. */
  readonly redirect: string;
}

export interface PutFormFields {
  readonly mode: WriteMode;
  readonly filter?: string;
  /** 1..100; undefined means the daemon default. */
  readonly maxReplicas?: number;
}

export interface PutUpload {
  /** The bytes of the `file` part. */
  readonly body: Readable;
  readonly fileName?: string;
  readonly contentType?: string;
  /** An upper bound of the file's size (the request's Content-Length), when known. */
  readonly sizeHint?: number;
  /** A replica pushed by another daemon (`X-Dfstore-Replica: 1`): import only, no fan-out. */
  readonly replica?: boolean;
  form(): Promise<PutFormFields>;
}
