import type { Node } from 'constructs';

/** Ports of the peer daemon (DESIGN.md §1): object API and piece server. */
export const OBJECT_API_PORT = 65004;
export const PIECE_PORT = 65002;
/** Cloud Map names the functions look seed peers up by (DFSTORE_CLOUDMAP_*). */
export const CLOUDMAP_NAMESPACE = 'dfstore.internal';
export const CLOUDMAP_SEED_SERVICE = 'seed-peers';

export interface ExistingVpc {
  readonly vpcId: string;
  readonly availabilityZones: readonly string[];
  readonly privateSubnetIds: readonly string[];
}

export interface OssBackend {
  /** Secrets Manager secret with JSON fields `accessKeyId` and `accessKeySecret`. */
  readonly secretArn: string;
  readonly region: string;
  readonly endpoint: string;
}

const COMPLETE_SECRET_ARN =
  /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/;

/** Everything the stack can be told; `configFromContext` reads it from `cdk -c key=value`. */
export interface DfstoreConfig {
  readonly backend: 's3' | 'oss';
  /** An existing bucket (S3) or the OSS bucket; absent with S3: the stack creates one. */
  readonly bucketName?: string;
  readonly oss?: OssBackend;
  readonly seedPeers: number;
  readonly peers: number;
  /** Fargate task size (CPU units, MiB) and ephemeral storage (21–200 GiB) of every peer. */
  readonly cpu: number;
  readonly memory: number;
  readonly ephemeralStorageGiB: number;
  /** DFSTORE_INLINE_LIMIT of the object API function (bytes, or e.g. `4MiB`). */
  readonly inlineLimit?: string;
  readonly auth: 'token' | 'iam';
  readonly vpc?: ExistingVpc;
}

export const DEFAULT_CONFIG: DfstoreConfig = {
  backend: 's3',
  seedPeers: 2,
  peers: 1,
  cpu: 1024,
  memory: 2048,
  ephemeralStorageGiB: 50,
  auth: 'token',
};

/** Reads the context parameters documented in README.md "Deploy"; a bad one throws, named. */
export function configFromContext(node: Node): DfstoreConfig {
  const raw = (key: string): string | undefined => {
    const value: unknown = node.tryGetContext(key);
    return value === undefined || value === null || value === '' ? undefined : String(value);
  };
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const text = raw(key);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`context ${key}: must be an integer ${min}..${max}, got ${text}`);
    }
    return value;
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const text = raw(key) ?? fallback;
    if (!allowed.includes(text as T)) {
      throw new Error(`context ${key}: must be one of ${allowed.join(', ')}, got ${text}`);
    }
    return text as T;
  };
  const list = (key: string): string[] =>
    (raw(key) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);

  const backend = oneOf('backend', ['s3', 'oss'], 's3');
  const bucketName = raw('bucketName');
  const inlineLimit = raw('inlineLimit');
  let oss: OssBackend | undefined;
  if (backend === 'oss') {
    const secretArn = raw('ossSecretArn');
    const region = raw('ossRegion');
    const endpoint = raw('ossEndpoint') ?? (region ? `https://${region}.aliyuncs.com` : undefined);
    if (!secretArn || !region || !endpoint || !bucketName) {
      throw new Error('context backend=oss needs ossSecretArn, ossRegion and bucketName');
    }
    // A complete ARN (with the 6-character suffix): IAM grants and ECS secrets match it exactly.
    if (!COMPLETE_SECRET_ARN.test(secretArn)) {
      throw new Error(
        `context ossSecretArn: must be a complete Secrets Manager ARN, got ${secretArn}`,
      );
    }
    oss = { secretArn, region, endpoint };
  }
  const vpcId = raw('vpcId');
  let vpc: ExistingVpc | undefined;
  if (vpcId) {
    const availabilityZones = list('availabilityZones');
    const privateSubnetIds = list('privateSubnetIds');
    if (availabilityZones.length === 0 || availabilityZones.length !== privateSubnetIds.length) {
      throw new Error('context vpcId needs availabilityZones and as many privateSubnetIds');
    }
    vpc = { vpcId, availabilityZones, privateSubnetIds };
  }
  return {
    backend,
    ...(bucketName ? { bucketName } : {}),
    ...(oss ? { oss } : {}),
    seedPeers: int('seedPeers', DEFAULT_CONFIG.seedPeers, 1, 100),
    peers: int('peers', DEFAULT_CONFIG.peers, 0, 1000),
    cpu: int('cpu', DEFAULT_CONFIG.cpu, 256, 16384),
    memory: int('memory', DEFAULT_CONFIG.memory, 512, 122880),
    ephemeralStorageGiB: int('ephemeralStorageGiB', DEFAULT_CONFIG.ephemeralStorageGiB, 21, 200),
    ...(inlineLimit ? { inlineLimit } : {}),
    auth: oneOf('auth', ['token', 'iam'], DEFAULT_CONFIG.auth),
    ...(vpc ? { vpc } : {}),
  };
}
