import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DfstoreError, RangeNotSatisfiableError } from '../core/errors.ts';
import { formatUnsatisfiedContentRange } from '../core/range.ts';

export interface ErrorLogger {
  error(object: Record<string, unknown>, message: string): void;
}

/**
 * The one place where errors become HTTP: `{"errors": "...", "code": "ERR_..."}` with the error's
 * status. 4xx show their message; 5xx log the cause and show a generic message.
 */
export function createErrorHandler(logger?: ErrorLogger) {
  return (error: Error, c: Context): Response => {
    if (error instanceof DfstoreError) {
      if (error instanceof RangeNotSatisfiableError && error.size !== undefined) {
        c.header('Content-Range', formatUnsatisfiedContentRange(error.size));
      }
      if (!error.exposeMessage)
        logger?.error({ err: error, route: c.req.routePath }, 'request failed');
      const message = error.exposeMessage ? error.message : 'Internal Server Error';
      return errorResponse(c, error.statusCode, message, error.code);
    }
    if (error instanceof HTTPException) {
      return errorResponse(c, error.status, error.message || 'Bad Request', 'ERR_BAD_REQUEST');
    }
    logger?.error({ err: error, route: c.req.routePath }, 'unexpected error');
    return errorResponse(c, 500, 'Internal Server Error', 'ERR_INTERNAL');
  };
}

/** Unknown routes: 404 JSON like every other error. */
export function notFoundHandler(c: Context): Response {
  return errorResponse(c, 404, 'Not Found', 'ERR_ROUTE_NOT_FOUND');
}

export function errorResponse(c: Context, status: number, message: string, code: string): Response {
  // HEAD answers carry no body; the status is the contract.
  if (c.req.method === 'HEAD') return c.body(null, status as ContentfulStatusCode);
  return c.json({ errors: message, code }, status as ContentfulStatusCode);
}
