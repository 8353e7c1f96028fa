import { Hono } from 'hono';
import { createApiApp } from '../api/create-app.ts';
import { createBackend } from '../backends/create-backend.ts';
import type { PeerConfig } from '../config/peer-config.ts';
import { contextualLogger, type Logger } from '../observability/logger.ts';
import { createDaemonMetrics } from '../observability/metrics.ts';
import { DeferredClusterPort } from './deferred-cluster.ts';
import { instrumentApp } from './http-instrumentation.ts';
import { type Listener, startListener } from './http-listener.ts';
import { resolveIdentity } from './identity.ts';
import { createManagerClient } from './manager-client.ts';
import { applyManagerConfig } from './manager-config-apply.ts';
import { createP2pCluster, type P2pCluster } from './p2p-cluster.ts';
import { openPeerNode } from './peer-node.ts';
import { addMetricsRoute, createPieceServerApp } from './piece-server.ts';
import { createManagerFetch } from './signed-fetch.ts';

export interface DaemonEndpoints {
  /** The dfstore object API; absent when `objectStorage.enable` is false. */
  readonly api?: string;
  /** The piece server (and `/metrics`, unless a metrics listener is configured). */
  readonly pieces: string;
  readonly metrics?: string;
  /** This daemon's ID in the cluster (`host.id`). */
  readonly peerId: string;
}

export interface RunningDaemon {
  readonly endpoints: DaemonEndpoints;
  /**
   * Graceful stop: stop accepting, let in-flight requests finish (destroying what is left after
   * `shutdownTimeout`), then close the node (running write-backs finish; pending ones stay
   * journaled). Resolves false when the node did not close within `shutdownTimeout`.
   * Idempotent.
   */
  shutdown(reason: string): Promise<boolean>;
}

/**
 * Starts a peer daemon: backend, peer node (storage, journal, object service), the object API
 * listener, the piece server and, when configured, a separate metrics listener.
 */
export async function startDaemon(config: PeerConfig, logger: Logger): Promise<RunningDaemon> {
  const metrics = createDaemonMetrics();
  // Components built once but logging on behalf of requests write through the request's child.
  const log = contextualLogger(logger);
  const backend = await createBackend(config.backend);
  const manager =
    config.manager.netAddrs.length > 0
      ? createManagerClient({
          netAddrs: config.manager.netAddrs,
          fetch: createManagerFetch(),
          logger: log,
        })
      : undefined;
  // The manager's peer config wins over the file's once it answered (DESIGN.md §6).
  const settings = {
    filter: config.objectStorage.filter,
    maxReplicas: config.objectStorage.maxReplicas,
  };
  const clusterPort = manager ? new DeferredClusterPort() : undefined;
  let p2p: P2pCluster | undefined;
  const node = await openPeerNode({
    dataDir: config.storage.dataDir,
    capacity: config.storage.capacity,
    backend,
    filter: () => settings.filter,
    maxReplicas: () => settings.maxReplicas,
    cluster: clusterPort,
    onPiece: (taskId, index) => p2p?.pieceAdded(taskId, index),
    writeBackConcurrency: config.objectStorage.writeBack.concurrency,
    writeBackBackoff: {
      baseMs: config.objectStorage.writeBack.retryBase,
      capMs: config.objectStorage.writeBack.retryCap,
    },
    logger: log,
    metrics,
  });
  metrics.observe({ journal: node.journal, store: node.store });
  if (manager) {
    manager.onChange(applyManagerConfig({ config, settings, node, logger: log }));
    await manager.start();
  }

  const listeners: Listener[] = [];
  const timeoutMs = config.shutdownTimeoutMs;
  let peerId = '';
  try {
    // The piece server listens first: the daemon's identity carries its port (port 0 in tests).
    // Until the cluster is built, it answers 503.
    let pieceApp: Hono | undefined;
    const shell = new Hono().all('*', (c) =>
      pieceApp
        ? pieceApp.fetch(c.req.raw, c.env)
        : c.json({ errors: 'starting', code: 'ERR_UNAVAILABLE' }, 503),
    );
    const pieces = await startListener({
      name: 'pieces',
      app: instrumentApp(shell, { server: 'pieces', logger, metrics, accessLogLevel: 'debug' }),
      tcpListen: config.upload.tcpListen,
      timeouts: config.limits,
    });
    listeners.push(pieces);
    const self = resolveIdentity(config, pieces.port);
    peerId = self.peerId;
    const corruptPieces = process.env.DFSTORE_FAULT_CORRUPT_PIECES === '1';
    if (corruptPieces) logger.warn({}, 'FAULT INJECTION: serving corrupted pieces (test only)');
    const app = createPieceServerApp({
      store: node.store,
      logger: log,
      metrics: config.metrics ? undefined : metrics.registry,
      corruptPieces,
    });
    if (manager && clusterPort) {
      p2p = createP2pCluster({
        role: config.role,
        self,
        store: node.store,
        journal: node.journal,
        backend: node.backend,
        manager,
        logger: log,
        metrics,
      });
      p2p.attach(node.service);
      p2p.addRoutes(app);
      clusterPort.attach(p2p.port);
    }
    pieceApp = app;
    if (config.objectStorage.enable) {
      const apiApp = createApiApp({
        service: node.service,
        logger: log,
        maxObjectSize: config.limits.maxObjectSize,
      });
      listeners.push(
        await startListener({
          name: 'api',
          app: instrumentApp(apiApp, { server: 'api', logger, metrics }),
          tcpListen: config.objectStorage.tcpListen,
          tls: config.objectStorage.tls,
          logger,
          timeouts: config.limits,
        }),
      );
    }
    if (config.metrics) {
      const metricsApp = addMetricsRoute(new Hono(), metrics.registry).get('/healthy', (c) =>
        c.json('OK'),
      );
      listeners.push(
        await startListener({ name: 'metrics', app: metricsApp, tcpListen: config.metrics }),
      );
    }
  } catch (error) {
    await Promise.all(listeners.map((listener) => listener.close(0)));
    manager?.close();
    await p2p?.close();
    await node.close();
    throw error;
  }

  const url = (name: string) => listeners.find((listener) => listener.name === name)?.url;
  let stopping: Promise<boolean> | undefined;
  return {
    endpoints: {
      api: url('api'),
      pieces: url('pieces') ?? '',
      metrics: url('metrics'),
      peerId,
    },
    shutdown(reason) {
      stopping ??= shutdown(reason);
      return stopping;
    },
  };

  async function shutdown(reason: string): Promise<boolean> {
    logger.info({ reason, timeoutMs }, 'shutting down: draining requests');
    const graceful = await Promise.all(listeners.map((listener) => listener.close(timeoutMs)));
    const cut = listeners.filter((_, i) => !graceful[i]).map((listener) => listener.name);
    if (cut.length > 0) {
      logger.warn({ listeners: cut, timeoutMs }, 'requests still running were cut off');
    }
    manager?.close();
    await p2p?.close().catch((error: unknown) => logger.warn({ err: error }, 'closing P2P failed'));
    logger.info({}, 'closing the peer node');
    const closed = await within(
      node.close().then(
        () => true,
        (error: unknown) => {
          logger.error({ err: error }, 'closing the peer node failed');
          return false;
        },
      ),
      timeoutMs,
    );
    if (closed === undefined) logger.error({ timeoutMs }, 'the peer node did not close in time');
    return closed === true;
  }
}

/** `promise`'s value, or undefined after `ms`; the timer keeps the process alive meanwhile. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
