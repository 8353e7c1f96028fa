import * as z from 'zod';

const MiB = 1024 * 1024;

/** S3 (or any S3-compatible server). Credentials fall back to the AWS default chain. */
export const s3BackendConfigSchema = z.object({
  name: z.literal('s3'),
  region: z.string().min(1).default('us-east-1'),
  /** Custom endpoint (e.g. a local S3 server); AWS's regional endpoint when absent. */
  endpoint: z.url().optional(),
  forcePathStyle: z.boolean().default(false),
  accessKeyId: z.string().min(1).optional(),
  secretAccessKey: z.string().min(1).optional(),
  sessionToken: z.string().min(1).optional(),
  /** Bodies at or above this size (or of unknown size) go up as a multipart upload. */
  multipartThreshold: z
    .number()
    .int()
    .min(5 * MiB)
    .default(16 * MiB),
  /** Part buffers are pooled: an upload holds at most (queueSize + 1) × partSize bytes. */
  partSize: z
    .number()
    .int()
    .min(5 * MiB)
    .default(6 * MiB),
  /** Parts in flight per upload. */
  queueSize: z.number().int().min(1).max(32).default(3),
  /**
   * Socket idle time after which a request fails (a stalled server, a dead connection): an
   * inactivity bound, so large transfers that keep moving are never cut.
   */
  requestTimeoutMs: z.number().int().min(100).default(60_000),
});

/** Aliyun OSS through ali-oss. */
export const ossBackendConfigSchema = z.object({
  name: z.literal('oss'),
  region: z.string().min(1),
  /** e.g. `https://oss-cn-hangzhou.aliyuncs.com`; a local test server with `sldEnable`. */
  endpoint: z.url(),
  accessKeyId: z.string().min(1),
  accessKeySecret: z.string().min(1),
  securityToken: z.string().min(1).optional(),
  /** Path-style `/bucket/key` requests (second-level domain), for local servers. */
  sldEnable: z.boolean().default(false),
  secure: z.boolean().optional(),
  multipartThreshold: z
    .number()
    .int()
    .min(100 * 1024)
    .default(16 * MiB),
  /** Part buffers are pooled: an upload holds at most (parallel + 1) × partSize bytes. */
  partSize: z
    .number()
    .int()
    .min(100 * 1024)
    .default(6 * MiB),
  parallel: z.number().int().min(1).max(32).default(3),
  timeoutMs: z.number().int().min(1000).default(120_000),
});

/** The embedded default: one directory per bucket under `root`. */
export const fsBackendConfigSchema = z.object({
  name: z.literal('fs'),
  root: z.string().min(1),
  /**
   * Presigned URLs point at `baseUrl` (a server that mounts the fs presign handler) and are
   * signed with HMAC-SHA256 under `secret`.
   */
  presign: z
    .object({
      baseUrl: z.url(),
      secret: z.string().min(16),
    })
    .optional(),
});

export const backendConfigSchema = z.discriminatedUnion('name', [
  s3BackendConfigSchema,
  ossBackendConfigSchema,
  fsBackendConfigSchema,
]);

export type S3BackendConfig = z.infer<typeof s3BackendConfigSchema>;
export type OssBackendConfig = z.infer<typeof ossBackendConfigSchema>;
export type FsBackendConfig = z.infer<typeof fsBackendConfigSchema>;
export type BackendConfig = z.infer<typeof backendConfigSchema>;
export type BackendConfigInput = z.input<typeof backendConfigSchema>;
