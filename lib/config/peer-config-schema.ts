import * as z from 'zod';
import { backendConfigSchema } from './backend-config.ts';
import { parseByteSize, parseDuration } from './units.ts';

/**
 * The peer daemon's YAML config. Key names follow Dragonfly's dfdaemon (`client/config/
 * peerhost.go`) where it has them: `objectStorage.*`, `upload.tcpListen.*`, `storage.*`,
 * `manager.netAddrs`. Objects are strict so a misspelt key fails loudly instead of being ignored.
 * Defaults that depend on other keys (listen addresses, the backend) are filled in by
 * peer-config.ts after parsing.
 */

const GiB = 1024 ** 3;

/**
 * Every backend's presigned-URL signature parameters: the same object version maps to the same
 * task ID however its URL was signed (PROTOCOL.md §5, FIX).
 */
export const DEFAULT_OBJECT_STORAGE_FILTER = [
  'Expires',
  'Signature',
  'ns',
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
  'X-Amz-Security-Token',
  'OSSAccessKeyId',
  'x-oss-signature',
  'x-oss-date',
  'x-oss-expires',
  'x-oss-credential',
  'x-oss-signature-version',
].join('&');

export const DEFAULT_API_PORT = 65004;
export const DEFAULT_PIECE_PORT = 65002;
export const DEFAULT_METRICS_PORT = 8000;
export const DEFAULT_DATA_DIR = './.dfstore/peer';
export const DEFAULT_CAPACITY = 10 * GiB;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Ports `start..end` to try in order (Dragonfly's `port: N` or `port: {start, end}`). */
export interface PortRange {
  readonly start: number;
  readonly end: number;
}

const port = z.number().int().min(0).max(65535);
const PORT_ERROR = 'expected a port number 0..65535 or { start, end }';

/** `port: 65004` or `port: { start: 65004, end: 65010 }`; 0 asks the OS for a free port. */
const portSchema = z
  .union([port, z.strictObject({ start: port, end: port })], { error: PORT_ERROR })
  .transform((value, ctx): PortRange => {
    const range = typeof value === 'number' ? { start: value, end: value } : value;
    if (range.end < range.start)
      ctx.issues.push({ code: 'custom', message: 'end < start', input: value });
    return range;
  });

const tcpListenSchema = (defaultPort: number) =>
  z.strictObject({
    /** Interface address; the default depends on the role (see peer-config.ts). */
    listen: z.string().min(1).optional(),
    port: portSchema.prefault(defaultPort),
  });

/**
 * PEM values are inline PEM text or a file path, as in Dragonfly's `types.PEMContent`; the
 * loader reads the files.
 */
const securitySchema = z
  .strictObject({
    insecure: z.boolean().default(true),
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    caCert: z.string().min(1).optional(),
    /** Require client certificates signed by `caCert`. */
    tlsVerify: z.boolean().default(false),
  })
  .superRefine((s, ctx) => {
    const need = (key: 'cert' | 'key' | 'caCert', why: string) => {
      if (!s[key]) ctx.addIssue({ code: 'custom', path: [key], message: `required ${why}` });
    };
    if (!s.insecure) {
      need('cert', 'when insecure is false');
      need('key', 'when insecure is false');
    }
    if (s.tlsVerify) {
      if (s.insecure) {
        ctx.addIssue({ code: 'custom', path: ['tlsVerify'], message: 'needs insecure: false' });
      }
      need('caCert', 'when tlsVerify is true');
    }
  });

const capacitySchema = z
  .union([z.number(), z.string()], { error: 'expected bytes or a size like "10GiB"' })
  .transform((value, ctx) => {
    const bytes = typeof value === 'number' ? value : parseByteSize(value);
    if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes <= 0) {
      ctx.issues.push({
        code: 'custom',
        message: `invalid size ${JSON.stringify(value)} (e.g. 10GiB, 512MiB, 1073741824)`,
        input: value,
      });
      return z.NEVER;
    }
    return bytes;
  });

const durationSchema = z.string().transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.issues.push({
      code: 'custom',
      message: `invalid duration ${JSON.stringify(value)} (e.g. 30s, 500ms, 2m)`,
      input: value,
    });
    return z.NEVER;
  }
  return ms;
});

/** A manager address: `host:port`, a URL, or Dragonfly's `{ type: tcp, addr: host:port }`. */
const netAddrSchema = z
  .union(
    [
      z.string().min(1),
      z.strictObject({ type: z.literal('tcp').default('tcp'), addr: z.string().min(1) }),
    ],
    {
      error: 'expected "host:port", a URL or { type: tcp, addr }',
    },
  )
  .transform((value, ctx) => {
    const text = typeof value === 'string' ? value : value.addr;
    const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
    if (!URL.canParse(url)) {
      ctx.issues.push({
        code: 'custom',
        message: `invalid address ${JSON.stringify(text)}`,
        input: value,
      });
      return z.NEVER;
    }
    return new URL(url).origin;
  });

export const peerConfigSchema = z.strictObject({
  role: z.enum(['peer', 'seed-peer']).default('peer'),
  /** How other daemons know this one (Dragonfly's `host.*`). */
  host: z
    .strictObject({
      /** Unique in the cluster; default `<hostname>-<advertiseIP>-<piece port>`. A seed peer's
       * must match its entry in the manager's list, or the manager lists its piece address. */
      id: z.string().min(1).max(256).optional(),
      /** The address other daemons reach this one at; default the piece listener's address,
       * or the first non-internal IPv4 address when that is a wildcard. */
      advertiseIP: z.string().min(1).optional(),
    })
    .prefault({}),
  logLevel: z.enum(LOG_LEVELS).default('info'),
  /** How long SIGTERM waits for in-flight requests, then for the node to close. */
  shutdownTimeout: durationSchema.prefault('30s'),
  objectStorage: z
    .strictObject({
      enable: z.boolean().default(true),
      filter: z.string().default(DEFAULT_OBJECT_STORAGE_FILTER),
      maxReplicas: z.number().int().min(1).max(100).default(3),
      /** The write-back worker of mode-0 PUTs: parallelism and retry backoff (full jitter). */
      writeBack: z
        .strictObject({
          concurrency: z.number().int().min(1).max(64).default(4),
          retryBase: durationSchema.prefault('1s'),
          retryCap: durationSchema.prefault('1m'),
        })
        .prefault({}),
      tcpListen: tcpListenSchema(DEFAULT_API_PORT).prefault({}),
      security: securitySchema.prefault({}),
    })
    .prefault({}),
  /** The piece server (Dragonfly's upload server serves pieces to other peers). */
  upload: z
    .strictObject({ tcpListen: tcpListenSchema(DEFAULT_PIECE_PORT).prefault({}) })
    .prefault({}),
  storage: z
    .strictObject({
      dataDir: z.string().min(1).default(DEFAULT_DATA_DIR),
      capacity: capacitySchema.prefault(DEFAULT_CAPACITY),
    })
    .prefault({}),
  manager: z.strictObject({ netAddrs: z.array(netAddrSchema).default([]) }).prefault({}),
  /** Bounds on what one client may cost the daemon (SECURITY.md, denial of service). */
  limits: z
    .strictObject({
      /** Largest object a PUT may carry (413 above); absent: `storage.capacity`, since an
       * object larger than the cache cannot be cached. */
      maxObjectSize: capacitySchema.optional(),
      /** Time to send the request headers (object API and piece server). */
      headersTimeout: durationSchema.prefault('60s'),
      /** Time without a byte of an incomplete request body before the connection is closed. */
      bodyIdleTimeout: durationSchema.prefault('60s'),
    })
    .prefault({}),
  /** Absent: the fs backend in `backend/` beside dataDir (see peer-config.ts). */
  backend: backendConfigSchema.optional(),
  /** Absent: `/metrics` is served on the piece server. */
  metrics: z
    .strictObject({
      listen: z.string().min(1).default('127.0.0.1'),
      port: portSchema.prefault(DEFAULT_METRICS_PORT),
    })
    .optional(),
});

export type PeerConfigInput = z.input<typeof peerConfigSchema>;
export type ParsedPeerConfig = z.output<typeof peerConfigSchema>;
