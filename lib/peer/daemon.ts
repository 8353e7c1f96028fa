import { Hono } from 'hono';
import { createApiApp } from '../api/create-app.ts';
import { createBackend } from '../backends/create-backend.ts';
import type { PeerConfig } from '../config/peer-config.ts';
import { contextualLogger, type Logger } from '../observability/logger.ts';
import { createDaemonMetrics } from '../observability/metrics.ts';
import { instrumentApp } from './http-instrumentation.ts';
import { type Listener, startListener } from './http-listener.ts';
import { openPeerNode } from './peer-node.ts';
import { addMetricsRoute, createPieceServerApp } from './piece-server.ts';

export interface DaemonEndpoints {
  /** The dfstore object API; absent when `objectStorage.enable` is false. */
  readonly api?: string;
  /** The piece server (and `/metrics`, unless a metrics listener is configured). */
  readonly pieces: string;
  readonly metrics?: string;
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
  const node = await openPeerNode({
    dataDir: config.storage.dataDir,
    capacity: config.storage.capacity,
    backend,
    filter: config.objectStorage.filter,
    maxReplicas: config.objectStorage.maxReplicas,
    writeBackConcurrency: config.objectStorage.writeBack.concurrency,
    writeBackBackoff: {
      baseMs: config.objectStorage.writeBack.retryBase,
      capMs: config.objectStorage.writeBack.retryCap,
    },
    logger: log,
    metrics,
  });
  metrics.observe({ journal: node.journal, store: node.store });

  const listeners: Listener[] = [];
  const timeoutMs = config.shutdownTimeoutMs;
  try {
    const pieceApp = createPieceServerApp({
      store: node.store,
      logger: log,
      metrics: config.metrics ? undefined : metrics.registry,
    });
    const pieces = await startListener({
      name: 'pieces',
      app: instrumentApp(pieceApp, { server: 'pieces', logger, metrics, accessLogLevel: 'debug' }),
      tcpListen: config.upload.tcpListen,
    });
    listeners.push(pieces);
    if (config.objectStorage.enable) {
      const apiApp = createApiApp({ service: node.service, logger: log });
      listeners.push(
        await startListener({
          name: 'api',
          app: instrumentApp(apiApp, { server: 'api', logger, metrics }),
          tcpListen: config.objectStorage.tcpListen,
          tls: config.objectStorage.tls,
          logger,
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
    await node.close();
    throw error;
  }

  const url = (name: string) => listeners.find((listener) => listener.name === name)?.url;
  let stopping: Promise<boolean> | undefined;
  return {
    endpoints: { api: url('api'), pieces: url('pieces') ?? '', metrics: url('metrics') },
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
