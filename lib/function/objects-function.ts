import type { Hono } from 'hono';
import { createBackend } from '../backends/create-backend.ts';
import type { ObjectsFunctionConfig } from '../config/objects-function-env.ts';
import type { FunctionUrlHandler } from '../local/function-url.ts';
import {
  createCloudMapMembership,
  type DiscoverInstancesClient,
} from '../manager/membership/cloudmap-membership.ts';
import type { MembershipSource } from '../manager/membership/membership-source.ts';
import { createStaticMembership } from '../manager/membership/static-membership.ts';
import { contextualLogger, type Logger } from '../observability/logger.ts';
import { type GetSecretValueClient, secretTokenSource, staticTokenSource } from './api-token.ts';
import { createObjectsFunctionApp } from './app.ts';
import type { FunctionAuth } from './auth.ts';
import { resolveBackendConfig } from './backend-secret.ts';
import { createEmfRecorder } from './emf.ts';
import { createFunctionObjectService } from './function-object-service.ts';
import { createHttpCaller } from './http-caller.ts';
import { createLambdaHandler } from './lambda-handler.ts';
import {
  createSeedPeerObjectApi,
  createSeedPeerP2p,
  type SeedPeerObjectApi,
} from './seed-peer-client.ts';
import { createSeedPeerObjectService } from './seed-peer-service.ts';
import { createSeedPeerDirectory } from './seed-peers.ts';
import { createUploadSessions } from './upload-sessions.ts';

export interface ObjectsFunctionOptions {
  readonly logger: Logger;
  /** Test seams; by default AWS SDK clients from the default region and credential chain. */
  readonly secretsClient?: GetSecretValueClient;
  readonly cloudMapClient?: DiscoverInstancesClient;
  /** Where EMF lines go (default stdout). */
  readonly writeMetric?: (line: string) => void;
}

export interface ObjectsFunction {
  readonly handler: FunctionUrlHandler;
  readonly app: Hono;
  /** Closes connection pools (tests; Lambda just freezes the process). */
  close(): Promise<void>;
}

/** Connection setup to a seed peer; past it the seed peer counts as unreachable. */
const CONNECT_TIMEOUT_MS = 3_000;
/** A seed peer's answer to a small request (a WriteBack PUT waits for the backend). */
const SEED_PEER_TIMEOUT_MS = 25_000;
/** A holder landing a pending write-back before a large GET is redirected. */
const FLUSH_TIMEOUT_MS = 60_000;
/** A P2P answer's body (lib/peer/p2p-client.ts's default). */
const P2P_BODY_TIMEOUT_MS = 30_000;

/**
 * Builds the object API function from its config (lib/config/objects-function-env.ts): the
 * backend, the seed-peer membership, clients, the ObjectService and upload sessions, the app and
 * the Lambda handler. Everything here lives as long as the execution environment.
 */
export async function createObjectsFunction(
  config: ObjectsFunctionConfig,
  options: ObjectsFunctionOptions,
): Promise<ObjectsFunction> {
  const { logger } = options;
  const backend = await createBackend(
    await resolveBackendConfig(config.backend, config.backendSecretArn, options.secretsClient),
  );
  const seedPeers = createSeedPeerDirectory({ source: membershipOf(config, options), logger });
  // node:http, not undici: the bundle stays small (bench/lambda.ts).
  const http = createHttpCaller({
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    keepAliveTimeoutMs: 30_000,
  });
  const p2p = createSeedPeerP2p(http, {
    headersTimeoutMs: FLUSH_TIMEOUT_MS,
    bodyTimeoutMs: P2P_BODY_TIMEOUT_MS,
  });
  const clients = new Map<string, SeedPeerObjectApi>();
  const clientOf = (objectApi: string): SeedPeerObjectApi => {
    let client = clients.get(objectApi);
    if (!client) {
      client = createSeedPeerObjectApi(http, objectApi, {
        headersTimeoutMs: SEED_PEER_TIMEOUT_MS,
        bodyTimeoutMs: SEED_PEER_TIMEOUT_MS,
      });
      clients.set(objectApi, client);
    }
    return client;
  };
  const requestLogger = contextualLogger(logger);
  const service = createFunctionObjectService({
    backend,
    seedPeers,
    seedPeerService: (peer) => createSeedPeerObjectService(clientOf(peer.objectApi)),
    p2p,
    inlineLimit: config.inlineLimit,
    redirectTtlSeconds: config.redirectTtlSeconds,
    flushTimeoutMs: FLUSH_TIMEOUT_MS,
    logger: requestLogger,
  });
  const uploads = createUploadSessions({
    backend,
    seedPeers,
    p2p,
    filter: config.filter,
    defaultMaxReplicas: config.maxReplicas,
    partUrlTtlSeconds: config.uploadTtlSeconds,
    logger: requestLogger,
  });
  const app = createObjectsFunctionApp({
    service,
    uploads,
    inlineLimit: config.inlineLimit,
    auth: authOf(config, options),
    logger: requestLogger,
  });
  const handler = createLambdaHandler({
    fetch: app.fetch,
    logger,
    recordMetric: config.emfMetrics ? createEmfRecorder(options.writeMetric) : undefined,
  });
  return {
    handler,
    app,
    async close() {
      http.close();
    },
  };
}

function membershipOf(config: ObjectsFunctionConfig, options: ObjectsFunctionOptions) {
  const membership = config.membership;
  switch (membership.kind) {
    case 'static':
      return createStaticMembership(membership.seedPeers);
    case 'cloudMap':
      return createCloudMapMembership({
        namespace: membership.namespace,
        service: membership.service,
        cacheTtlMs: membership.cacheTtlMs,
        client: options.cloudMapClient,
        logger: options.logger,
      });
    case 'none':
      return { list: async () => [] } satisfies MembershipSource;
  }
}

function authOf(config: ObjectsFunctionConfig, options: ObjectsFunctionOptions): FunctionAuth {
  const auth = config.auth;
  if (auth.mode === 'iam') return { mode: 'iam' };
  if ('token' in auth) return { mode: 'token', tokens: staticTokenSource(auth.token) };
  return {
    mode: 'token',
    tokens: secretTokenSource({
      secretArn: auth.secretArn,
      client: options.secretsClient,
      logger: options.logger,
    }),
  };
}
