import { Hono } from 'hono';
import { createApiApp } from '../api/create-app.ts';
import { createErrorHandler, type ErrorLogger, notFoundHandler } from '../api/error-handler.ts';
import type { ObjectService } from '../api/object-service.ts';
import type { UploadSessions } from '../api/upload-sessions.ts';
import { type FunctionAuth, tokenAuth } from './auth.ts';

export interface ObjectsFunctionAppDeps {
  readonly service: ObjectService;
  readonly uploads: UploadSessions;
  readonly inlineLimit: number;
  readonly auth: FunctionAuth;
  readonly logger?: ErrorLogger;
}

/**
 * The object API function's HTTP app: the dfstore API (with upload sessions and `inlineLimit` in
 * `GET /metadata`) behind the token check. In `iam` mode AWS has checked the caller already.
 */
export function createObjectsFunctionApp(deps: ObjectsFunctionAppDeps): Hono {
  const api = createApiApp({
    service: deps.service,
    logger: deps.logger,
    uploads: { sessions: deps.uploads, inlineLimit: deps.inlineLimit },
  });
  if (deps.auth.mode === 'iam') return api;
  const app = new Hono({ strict: true });
  app.onError(createErrorHandler(deps.logger));
  app.notFound(notFoundHandler);
  app.use('*', tokenAuth(deps.auth.tokens));
  app.route('/', api);
  return app;
}
