import { Hono } from 'hono';
import { createErrorHandler, type ErrorLogger, notFoundHandler } from './error-handler.ts';
import { assertNoDotSegments } from './object-path.ts';
import type { ObjectService } from './object-service.ts';
import { createBucket, listMetadatas } from './routes/buckets.ts';
import { deleteObject, getObject, headObject, putObject } from './routes/objects.ts';
import { addUploadRoutes } from './routes/uploads.ts';
import type { UploadSessions } from './upload-sessions.ts';

export interface ApiDeps {
  readonly service: ObjectService;
  readonly logger?: ErrorLogger;
  /**
   * Hosts that cannot carry large bodies (the object API function): mounts the upload-session
   * routes and reports `inlineLimit` (bytes) in `GET /metadata`, so that the project's CLI knows
   * when to open a session. Other clients ignore the extra field.
   */
  readonly uploads?: { readonly sessions: UploadSessions; readonly inlineLimit: number };
  /** Largest object a PUT may carry (413 above); default unlimited. */
  readonly maxObjectSize?: number;
}

/**
 * The dfstore HTTP API (PROTOCOL.md §2), one route table for every host: the peer daemon
 * (@hono/node-server), the object API function (serverless-http) and tests (`app.request`).
 */
export function createApiApp({ service, logger, uploads, maxObjectSize }: ApiDeps): Hono {
  const app = new Hono({ strict: true });
  app.onError(createErrorHandler(logger));
  app.notFound(notFoundHandler);
  app.use('*', async (c, next) => {
    assertNoDotSegments(c);
    await next();
  });

  app.get('/healthy', (c) => c.json('OK'));
  app.get('/metadata', (c) => {
    const { name, region, endpoint } = service.metadata();
    const limit = uploads ? { inlineLimit: uploads.inlineLimit } : {};
    return c.json({ Name: name, Region: region, Endpoint: endpoint, ...limit });
  });

  app.post('/buckets/:bucket', (c) => createBucket(c, service));
  app.get('/buckets/:bucket/metadatas', (c) => listMetadatas(c, service));
  // Hono answers HEAD with the GET route, so HEAD is dispatched inside the GET handler.
  app.get('/buckets/:bucket/objects/*', (c) =>
    c.req.method === 'HEAD' ? headObject(c, service) : getObject(c, service),
  );
  app.put('/buckets/:bucket/objects/*', (c) => putObject(c, service, maxObjectSize));
  app.delete('/buckets/:bucket/objects/*', (c) => deleteObject(c, service));
  if (uploads) addUploadRoutes(app, uploads.sessions);
  return app;
}
