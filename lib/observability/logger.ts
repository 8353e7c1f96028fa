import { AsyncLocalStorage } from 'node:async_hooks';
import { type DestinationStream, type Level, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** The logging calls the rest of the code makes (a pino Logger satisfies it). */
export interface LogMethods {
  trace(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  fatal(obj: object, msg?: string): void;
}

export interface LoggerOptions {
  readonly level: Level | 'silent';
  /** Fields on every line (e.g. `{ role }`). */
  readonly base?: Record<string, unknown>;
  /** Default: stderr (see `sync`). */
  readonly destination?: DestinationStream;
  /**
   * Write stderr synchronously (default): no line is ever lost, even on a crash, at the price of
   * one blocking write per line. `false` (busy daemons): lines queue while a write is under way
   * and leave in batches; they are flushed synchronously on exit, so only a SIGKILL can lose the
   * last few milliseconds of them.
   */
  readonly sync?: boolean;
}

/**
 * Fields that may hold credentials wherever they appear in a logged object. The code never logs
 * request bodies or headers; this is the safety net for the day someone does.
 */
const REDACT = [
  'authorization',
  'cookie',
  'secretAccessKey',
  'accessKeySecret',
  'sessionToken',
  'securityToken',
  'secret',
  'token',
  'password',
].flatMap((name) => [name, `*.${name}`, `headers.${name}`, `*.headers.${name}`]);

/** JSON lines to stderr, ISO times, credentials redacted, URL queries and userinfo scrubbed from errors. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: '[redacted]' },
      serializers: { err: serializeError },
    },
    options.destination ?? pino.destination({ fd: 2, sync: options.sync ?? true }),
  );
}

const requestLoggers = new AsyncLocalStorage<LogMethods>();

/** Runs `fn` with `logger` (a per-request child) as the current logger of its async context. */
export function withRequestLogger<T>(logger: LogMethods, fn: () => T): T {
  return requestLoggers.run(logger, fn);
}

/**
 * A logger that writes through the current request's child (so lines carry its `requestId`)
 * and through `base` outside requests. Give it to long-lived components (the API app, the peer
 * node) that are built once but log on behalf of requests.
 */
export function contextualLogger(base: LogMethods): LogMethods {
  const current = () => requestLoggers.getStore() ?? base;
  return {
    trace: (obj, msg) => current().trace(obj, msg),
    debug: (obj, msg) => current().debug(obj, msg),
    info: (obj, msg) => current().info(obj, msg),
    warn: (obj, msg) => current().warn(obj, msg),
    error: (obj, msg) => current().error(obj, msg),
    fatal: (obj, msg) => current().fatal(obj, msg),
  };
}

/** `https://h/p?X-Amz-Signature=…` → `https://h/p?[redacted]`; `//user:pass@` → `//[redacted]@`. */
export function scrubUrls(text: string): string {
  return text
    .replace(/(\bhttps?:\/\/[^\s?#"'<>]*)\?[^\s"'<>]*/gi, '$1?[redacted]')
    .replace(/(\bhttps?:\/\/)[^\s/@"'<>]+@/gi, '$1[redacted]@');
}

/** pino's error serializer, minus anything that may carry a presigned URL or raw response. */
function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  return scrub(pino.stdSerializers.err(error), 0);
}

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrubUrls(value);
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    // SDK errors carry the raw HTTP response (`$response`); its headers are not ours to log.
    if (key === '$response' || key === 'response' || key === 'config') continue;
    out[key] = scrub(v, depth + 1);
  }
  return out;
}
