import { STATUS_CODES } from 'node:http';
import { DfstoreError } from '../core/errors.ts';

export interface DfstoreHttpErrorDetails {
  readonly status: number;
  readonly method: string;
  /** Request path (no origin, no credentials). */
  readonly path: string;
  /** The server's `errors` message, when its body was dfstore JSON (or short text). */
  readonly serverMessage?: string;
  /** The server's `code` (e.g. `ERR_OBJECT_NOT_FOUND`), when it sent one. */
  readonly serverCode?: string;
}

/**
 * The server answered with a non-2xx status. `status` is the contract (PROTOCOL.md §1); the
 * server's message and code are carried when the body had them. Extends DfstoreError so that a
 * peer relaying a client failure maps it back to the same HTTP status in its own error handler.
 */
export class DfstoreHttpError extends DfstoreError {
  override readonly name: string = 'DfstoreHttpError';
  override readonly code: string;
  override readonly statusCode: number;
  readonly status: number;
  readonly method: string;
  readonly path: string;
  readonly serverMessage?: string;

  constructor(details: DfstoreHttpErrorDetails, options?: ErrorOptions) {
    super(formatMessage(details), options);
    this.status = details.status;
    this.statusCode = details.status;
    this.code = details.serverCode ?? `ERR_HTTP_${details.status}`;
    this.method = details.method;
    this.path = details.path;
    this.serverMessage = details.serverMessage;
  }
}

/** 404: the object, bucket or route does not exist. */
export class DfstoreNotFoundError extends DfstoreHttpError {
  override readonly name = 'DfstoreNotFoundError';
}

/** 401: missing or wrong credentials (the authenticated Lambda front). */
export class DfstoreUnauthorizedError extends DfstoreHttpError {
  override readonly name = 'DfstoreUnauthorizedError';
}

/** 403: credentials accepted but not allowed. */
export class DfstoreForbiddenError extends DfstoreHttpError {
  override readonly name = 'DfstoreForbiddenError';
}

/** Picks the error class for a status. */
export function httpErrorFor(details: DfstoreHttpErrorDetails): DfstoreHttpError {
  switch (details.status) {
    case 404:
      return new DfstoreNotFoundError(details);
    case 401:
      return new DfstoreUnauthorizedError(details);
    case 403:
      return new DfstoreForbiddenError(details);
    default:
      return new DfstoreHttpError(details);
  }
}

/** Longest error body we read; dfstore error bodies are tiny, anything larger is not one. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * Extracts `{errors, code}` from an error body. Non-JSON bodies (a proxy's HTML page, a plain
 * text 401) yield their first line when it is short, so the message stays readable.
 */
export function parseErrorBody(text: string): { message?: string; code?: string } {
  const trimmed = text.trim();
  if (trimmed === '') return {};
  try {
    const parsed: unknown = JSON.parse(trimmed);
    if (parsed && typeof parsed === 'object') {
      const { errors, code, message } = parsed as Record<string, unknown>;
      const text = typeof errors === 'string' ? errors : typeof message === 'string' ? message : '';
      return {
        message: text || undefined,
        code: typeof code === 'string' && code !== '' ? code : undefined,
      };
    }
    if (typeof parsed === 'string' && parsed !== '') return { message: parsed };
  } catch {
    // not JSON
  }
  const firstLine = trimmed.split('\n', 1)[0] ?? '';
  return firstLine.length <= 200 && !firstLine.startsWith('<') ? { message: firstLine } : {};
}

function formatMessage({
  status,
  method,
  path,
  serverMessage,
  serverCode,
}: DfstoreHttpErrorDetails) {
  const reason = STATUS_CODES[status] ?? 'Unknown Status';
  const detail = serverMessage && serverMessage !== reason ? `: ${serverMessage}` : '';
  const code = serverCode ? ` (${serverCode})` : '';
  return `${method} ${path}: ${status} ${reason}${detail}${code}`;
}
