import type { BackendConfig } from '../../lib/config/backend-config.ts';
import type { StaticSeedPeer } from '../../lib/config/manager-config.ts';
import { createManagerApp, type ServedPeerConfig } from '../../lib/manager/create-manager-app.ts';
import { createStaticMembership } from '../../lib/manager/membership/static-membership.ts';
import type { FetchLike } from '../../lib/peer/manager-client.ts';
import type { Logger } from '../../lib/storage/deps.ts';
import type { TempFsBackend } from './temp-fs-backend.ts';

/** Manager origins for an injected fetch; nothing listens on them. */
export const M1 = 'http://127.0.0.1:1';
export const M2 = 'http://127.0.0.1:2';

export const seedPeer = (n: number): StaticSeedPeer => ({
  id: `seed-${n}`,
  hostname: `seed-${n}`,
  ip: `10.0.1.${n}`,
  port: 65004,
  downloadPort: 65002,
});

/** One manager: the real app over an fs backend, with state the test can change. */
export function makeManager(fs: TempFsBackend) {
  const state = {
    peers: [seedPeer(1), seedPeer(2)],
    peerConfig: { filter: 'Expires&Signature', maxReplicas: 3, refreshInterval: 60 },
    backendConfig: { name: 'fs', root: fs.root } as BackendConfig,
  };
  const app = createManagerApp({
    backend: () => fs.backend,
    backendConfig: () => state.backendConfig,
    membership: { list: () => createStaticMembership(state.peers).list() },
    get peerConfig(): ServedPeerConfig {
      return state.peerConfig;
    },
  });
  return { state, app };
}

export type Route = (url: URL, init?: RequestInit) => Promise<Response> | Response;

/** An injected fetch routing by origin; unknown origins refuse like a closed port. */
export function routed(routes: Record<string, Route>) {
  const calls: string[] = [];
  const fetch: FetchLike = async (input, init) => {
    calls.push(input);
    const url = new URL(input);
    const route = routes[url.origin];
    if (!route) throw new TypeError('fetch failed');
    return route(url, init);
  };
  return { fetch, calls };
}

/** A Logger that keeps every entry. */
export function recordingLogger() {
  const entries: { level: string; msg?: string; obj: object }[] = [];
  const log = (level: string) => (obj: object, msg?: string) => entries.push({ level, obj, msg });
  const logger: Logger = {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
  };
  return { logger, warnings: () => entries.filter((e) => e.level === 'warn') };
}
